//! The Redis the fleet shares: the one at `SEAWALL_REDIS_URL`, or a `redis-server` this
//! example starts on a free loopback port and stops when it ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub url: String,
    child: Option<Child>,
}

impl Redis {
    pub fn find_or_start() -> Result<Redis, String> {
        if let Ok(url) = std::env::var("SEAWALL_REDIS_URL") {
            return Ok(Redis { url, child: None });
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "could not start redis-server ({e}); install it (Debian: apt-get install \
                     redis-server) or set SEAWALL_REDIS_URL"
                )
            })?;
        let redis = Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(port) {
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {port} did not answer in 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut reply = [0_u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
