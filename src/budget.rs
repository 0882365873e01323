//! A budget of extra attempts that several layers share: the retry layer's budget,
//! handed to the hedging layer, so that retries and hedges together stay within it.

use std::fmt;
use std::sync::Arc;

/// Something extra attempts are taken from (implemented by the retry layer's budget).
pub(crate) trait AttemptBudget: Send + Sync + fmt::Debug {
    /// Takes one attempt, if the budget holds one.
    fn try_spend(&self) -> bool;
}

/// A retry layer's budget, to share with a hedging layer
/// ([`RetryLayer::shared_budget`](crate::retry::RetryLayer::shared_budget),
/// [`hedge::Builder::share_budget`](crate::hedge::Builder::share_budget)): a hedge
/// then spends from the same budget as a retry, so a dependency in trouble sees at most
/// the budgeted share of extra attempts, whichever layer sends them.
///
/// ```
/// use seawall::hedge::HedgeLayer;
/// use seawall::retry::RetryLayer;
/// let retry = RetryLayer::builder().build()?;
/// let hedge = HedgeLayer::builder().share_budget(retry.shared_budget()).build()?;
/// # let _ = hedge;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SharedBudget(Arc<dyn AttemptBudget>);

impl SharedBudget {
    pub(crate) fn new(budget: Arc<dyn AttemptBudget>) -> Self {
        SharedBudget(budget)
    }

    /// Takes one attempt, if the budget holds one.
    pub(crate) fn try_spend(&self) -> bool {
        self.0.try_spend()
    }
}
