//! A real `redis-server` for the fleet tests: the one `.ci/run` started (its address in
//! `SEAWALL_REDIS_URL`), or one started here on a free loopback port and stopped when
//! the test ends. Without either, the tests say they are skipped and why; with
//! `SEAWALL_REQUIRE_REDIS=1` (as in CI) they fail instead.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Redis server the test may use; stops it on drop if this test started it.
pub struct Server {
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    _dir: Option<TempDir>,
}

impl Server {
    /// The server to test against, or `None` (with the reason printed) to skip.
    pub fn start() -> Option<Server> {
        Self::start_on(None)
    }

    /// A server of this test's own (to stop and restart), even in CI.
    pub fn start_own() -> Option<Server> {
        Self::start_on(Some(free_port()))
    }

    /// Stops this test's own server (the port stays this server's for `restart`).
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`true`, SIGSTOP) or thaws (`false`, SIGCONT) this test's own server: a
    /// Redis that hangs, with its connections open.
    pub fn freeze(&self, frozen: bool) {
        let child = self.child.as_ref().expect("a server of the test's own");
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts this test's own server again, empty, on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let restarted = Self::start_on(Some(self.port)).expect("started before");
        *self = restarted;
    }

    fn start_on(own: Option<u16>) -> Option<Server> {
        if let (None, Ok(url)) = (own, std::env::var("SEAWALL_REDIS_URL")) {
            let port = url.rsplit(':').next()?.trim_end_matches('/').parse().ok()?;
            return Some(Server {
                url,
                port,
                child: None,
                _dir: None,
            });
        }
        let Some(binary) = find("redis-server") else {
            let why = "redis-server is not installed (Debian: apt-get install redis-server; \
                       or run .ci/run, which installs it)";
            assert!(
                std::env::var("SEAWALL_REQUIRE_REDIS").as_deref() != Ok("1"),
                "SEAWALL_REQUIRE_REDIS=1 but {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        };
        let port = own.unwrap_or_else(free_port);
        let dir = TempDir::new();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Server {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            child: Some(child),
            _dir: Some(dir),
        };
        server.wait_until_it_answers();
        Some(server)
    }

    /// Polls with `PING` until the server answers `+PONG` (10 s at most).
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer in 10 s", self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// Sets `key` to the string `value` (to plant a key of the wrong type).
    pub fn set(&self, key: &str, value: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        let command = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        );
        stream.write_all(command.as_bytes()).unwrap();
        let mut reply = [0_u8; 5];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n");
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0_u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().unwrap().port()
}

fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "seawall-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
