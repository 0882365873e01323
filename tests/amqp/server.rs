//! A real `rabbitmq-server` (Debian's package) for the queue tests and the
//! `queue_worker` example: the one `.ci/run` started (its address in
//! `SEAWALL_AMQP_URL`), or one started here in the foreground, on free loopback ports
//! with a private data directory and Erlang port mapper, stopped when dropped. Without
//! either, callers say they skip and why; with `SEAWALL_REQUIRE_AMQP=1` (as in CI) they
//! fail instead.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A RabbitMQ server; stops it on drop if it was started here.
pub struct Server {
    pub url: String,
    child: Option<Child>,
    dir: Option<PathBuf>,
    ports: [u16; 3],
}

impl Server {
    /// The server to use, or `None` (with the reason printed) to skip.
    pub fn start() -> Option<Server> {
        if let Ok(url) = std::env::var("SEAWALL_AMQP_URL") {
            return Some(Server {
                url,
                child: None,
                dir: None,
                ports: [0; 3],
            });
        }
        Self::start_own()
    }

    /// A server of the caller's own (to stop and start again), even in CI.
    pub fn start_own() -> Option<Server> {
        if !Path::new(SERVER).is_file() {
            let why = "rabbitmq-server is not installed (Debian: apt-get install \
                       rabbitmq-server; or run .ci/run, which installs it)";
            assert!(
                std::env::var("SEAWALL_REQUIRE_AMQP").as_deref() != Ok("1"),
                "SEAWALL_REQUIRE_AMQP=1 but {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "seawall-rabbit-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("home")).expect("a temporary directory");
        let cookie = dir.join("home/.erlang.cookie");
        std::fs::write(&cookie, "seawalltestcookie").expect("the cookie is written");
        set_mode(&cookie, 0o400);
        std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].").unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let mut server = Server {
            url: format!("amqp://guest:guest@127.0.0.1:{}/%2f", ports[0]),
            child: None,
            dir: Some(dir),
            ports,
        };
        server.run();
        Some(server)
    }

    /// Starts (or starts again, with the same data and ports) the server of our own,
    /// and waits until it accepts AMQP connections.
    pub fn run(&mut self) {
        let dir = self.dir.clone().expect("a server of our own");
        let [amqp, dist, epmd] = self.ports;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{amqp}\nloopback_users = none\n"),
        )
        .unwrap();
        let child = Command::new(SERVER)
            .env("HOME", dir.join("home"))
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("rabbit.pid"))
            .env("RABBITMQ_NODENAME", format!("seawall{amqp}@localhost"))
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", amqp.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("ERL_EPMD_PORT", epmd.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", amqp)).is_ok() {
                // The port opens a moment before the broker takes connections.
                std::thread::sleep(Duration::from_millis(500));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("rabbitmq-server on port {amqp} did not listen within 60 s");
    }

    /// Stops the server of our own (SIGTERM: a clean shutdown), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.dir.is_none() {
            return;
        }
        self.stop();
        // The Erlang port mapper outlives the broker; ours has its own port.
        let _ = Command::new("epmd")
            .args(["-port", &self.ports[2].to_string(), "-kill"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().unwrap().port()
}
