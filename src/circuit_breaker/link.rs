//! How a service, its futures, a handle and a [`CallPermit`](super::CallPermit) reach
//! the breaker's engine. Each call's future holds a reference count on it, one count per
//! thread ([`Homed`]): cloning a service allocates nothing, and tasks on different
//! threads do not contend on one count.

use std::sync::Arc;

use super::engine::Engine;
use crate::homed::Homed;

/// What a call's future needs to record its end.
#[derive(Clone, Debug)]
pub(crate) struct Tracker<C> {
    engine: Arc<Engine>,
    classifier: C,
}

/// A reference to the breaker (a handle's link carries no classifier: `Link<()>`).
#[derive(Debug)]
pub(crate) enum Link<C> {
    /// Reference-counted, one count per thread.
    Shared(Homed<Tracker<C>>),
    /// A breaker that is never freed ([`Builder::build_static`](super::Builder::build_static)):
    /// no reference count at all; the classifier is copied instead.
    Static(&'static Engine, C),
}

impl<C> Link<C> {
    /// A link with a count of its own to `engine`.
    pub(crate) fn shared(engine: &Arc<Engine>, classifier: C) -> Self {
        Link::Shared(Homed::new(Tracker {
            engine: engine.clone(),
            classifier,
        }))
    }

    #[inline]
    pub(crate) fn engine(&self) -> &Engine {
        match self {
            Link::Shared(tracker) => &tracker.get().engine,
            Link::Static(engine, _) => engine,
        }
    }

    #[inline]
    pub(crate) fn classifier(&self) -> &C {
        match self {
            Link::Shared(tracker) => &tracker.get().classifier,
            Link::Static(_, classifier) => classifier,
        }
    }

    /// Another link to the same breaker sharing this one's count: for a clone of a
    /// service, or for a call's future (after [`Link::come_home`]).
    #[inline]
    pub(crate) fn share(&self) -> Self
    where
        C: Clone,
    {
        match self {
            Link::Shared(tracker) => Link::Shared(tracker.share()),
            Link::Static(engine, classifier) => Link::Static(engine, classifier.clone()),
        }
    }

    /// Before a call: makes sure this link's count serves the calling thread.
    #[inline]
    pub(crate) fn come_home(&mut self)
    where
        C: Clone,
    {
        if let Link::Shared(tracker) = self {
            tracker.come_home();
        }
    }

    /// A link for a handle: no classifier.
    pub(crate) fn for_handle(&self) -> Link<()> {
        match self {
            Link::Shared(tracker) => Link::shared(&tracker.get().engine, ()),
            Link::Static(engine, _) => Link::Static(engine, ()),
        }
    }
}

impl Clone for Link<()> {
    fn clone(&self) -> Self {
        self.share()
    }
}

impl<C> std::ops::Deref for Link<C> {
    type Target = Engine;

    #[inline]
    fn deref(&self) -> &Engine {
        self.engine()
    }
}
