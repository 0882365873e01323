//! What the compiler says to a user whose client's error cannot carry a rejection: it
//! must name the fix. Builds a small crate against this one (offline, with this crate's
//! lock file) and reads the compiler's message.

use std::path::Path;
use std::process::Command;

const FIXTURE: &str = r#"
use seawall::pipeline::StandardPipeline;
use tower::{service_fn, Service, ServiceBuilder};

/// The error of a client seawall knows nothing of (hyper's, say).
#[derive(Debug)]
pub struct ClientError;

fn serve<S: Service<u32>>(_client: S) {}

fn main() {
    let pipeline = StandardPipeline::builder().build().unwrap();
    let client = ServiceBuilder::new()
        .layer(pipeline)
        .service(service_fn(|n: u32| async move { Ok::<u32, ClientError>(n) }));
    serve(client);
}
"#;

fn compile_fixture(dir: &Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"fixture\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nseawall = {{ path = {root:?} }}\n\
         tower = {{ version = \"0.5\", features = [\"util\"] }}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), FIXTURE).unwrap();
    std::fs::copy(Path::new(root).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let output = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(!output.status.success(), "the fixture must not compile");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_error_type_without_from_rejected_gets_a_message_that_names_the_fix() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("diagnostics");
    let stderr = compile_fixture(&dir);
    assert!(
        stderr.contains("`ClientError` cannot carry a seawall rejection"),
        "{stderr}"
    );
    assert!(
        stderr.contains(".map_err(seawall::Error::Service)"),
        "{stderr}"
    );
}
