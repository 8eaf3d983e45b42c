//! The rollout against a real nginx (Debian's `nginx-light`): two small backends on
//! 127.0.0.1, nginx in front with the upstream file the plain-nginx router writes, the state
//! machine stepping 0 → 5 → 20 → 50 → 100 %, and an abort under continuous traffic.
//!
//! nginx runs with one worker process, and its smooth weighted round-robin is deterministic
//! for one worker: with weights reduced to `w_c : w_s` (e.g. 1 : 19 at 5 %), every run of
//! `w_c + w_s` consecutive requests after a reload sends exactly `w_c` to the canary. 2,000
//! sequential requests (each on a fresh connection) are a whole number of cycles at 5, 20 and
//! 50 %, so the observed canary share must equal the target exactly, not just fall within a
//! binomial tolerance. Measurements wait until the reload has replaced the worker process, so
//! every counted request went through the new weights.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serin_rollout::judge::{JudgeOutcome, Verdict};
use serin_rollout::router::nginx::{Nginx, NginxConfig};
use serin_rollout::{
    FileStore, Judge, JudgeError, JudgeRequest, ManualClock, Phase, Plan, Rollout, Router,
    Timestamp, Weight, WeightChange,
};

const NGINX: &str = "/usr/sbin/nginx";
const REQUESTS: u32 = 2_000;

/// A backend answering every request with its name; stopped on drop.
struct Backend {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    fn start(name: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for connection in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut connection) = connection else {
                    continue;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match connection.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = connection.write_all(response.as_bytes());
                let _ = connection.shutdown(Shutdown::Both);
            }
        });
        Backend {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One GET on a fresh connection: the body, or what went wrong.
fn get(port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    Ok(body.to_owned())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx under a temporary prefix, in the foreground; stopped (and waited for) on drop, even
/// when the test fails.
struct NginxProcess {
    child: Child,
    prefix: PathBuf,
    port: u16,
}

impl NginxProcess {
    fn args(prefix: &Path) -> Vec<String> {
        let prefix = prefix.display().to_string();
        vec![
            "-p".into(),
            format!("{prefix}/"),
            "-c".into(),
            format!("{prefix}/nginx.conf"),
            "-e".into(),
            format!("{prefix}/error.log"),
        ]
    }

    fn start(prefix: &Path, upstream: &Path) -> NginxProcess {
        let port = free_port();
        let p = prefix.display();
        // `user` matters only when started as root (workers keep root's access to the prefix);
        // otherwise nginx ignores it with a warning.
        let config = format!(
            "user root;\nworker_processes 1;\npid {p}/nginx.pid;\nevents {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
             \x20 fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             \x20 include {};\n  server {{\n    listen 127.0.0.1:{port};\n\
             \x20   location / {{ proxy_pass http://app; }}\n  }}\n}}\n",
            upstream.display()
        );
        std::fs::write(prefix.join("nginx.conf"), config).unwrap();
        let child = Command::new(NGINX)
            .args(Self::args(prefix))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{NGINX}: {e} (scripts/test.sh installs nginx-light)"));
        let nginx = NginxProcess {
            child,
            prefix: prefix.to_owned(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(port, "/").is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn reload_command(&self) -> Vec<String> {
        let mut command = vec![NGINX.to_owned()];
        command.extend(Self::args(&self.prefix));
        command.extend(["-s".to_owned(), "reload".to_owned()]);
        command
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default()
    }

    /// The master's worker processes, from /proc.
    fn workers(&self) -> Vec<u32> {
        let master = self.child.id();
        let mut workers = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if parent == Some(master) {
                workers.push(pid);
            }
        }
        workers
    }

    /// Waits until exactly one worker runs and it is not `previous` (the reload is complete:
    /// the old worker has exited, so every new connection meets the new weights).
    fn wait_for_worker(&self, previous: Option<u32>) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let [worker] = self.workers()[..]
                && Some(worker) != previous
            {
                return worker;
            }
            assert!(
                Instant::now() < deadline,
                "reload did not finish: {}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NginxProcess {
    fn drop(&mut self) {
        let stopped = Command::new(NGINX)
            .args(Self::args(&self.prefix))
            .args(["-s", "stop"])
            .status()
            .is_ok_and(|status| status.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Sends `REQUESTS` sequential requests; the canary's count and the failures.
fn measure(port: u16) -> Split {
    let mut split = Split::default();
    for _ in 0..REQUESTS {
        match get(port, "/").as_deref() {
            Ok("canary") => split.canary += 1,
            Ok("stable") => split.stable += 1,
            Ok(other) => panic!("unexpected body {other:?}"),
            Err(_) => split.failed += 1,
        }
    }
    split
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Split {
    canary: u32,
    stable: u32,
    failed: u32,
}

/// A judge that measures the live split instead of asking a service: it waits for nginx's
/// reload, sends 2,000 requests (when `measure` is on), records the split, and answers with
/// the verdict scripted for the weight (pass otherwise).
#[derive(Clone)]
struct MeasuringJudge {
    nginx: Arc<NginxProcess>,
    worker: Arc<Mutex<Option<u32>>>,
    measure: bool,
    fail_at: Option<Weight>,
    seen: Arc<Mutex<Vec<(Weight, Split)>>>,
}

impl Judge for MeasuringJudge {
    async fn judge(&self, request: &JudgeRequest) -> Result<JudgeOutcome, JudgeError> {
        let this = self.clone();
        let weight = request.weight;
        tokio::task::spawn_blocking(move || {
            let previous = *this.worker.lock().unwrap();
            *this.worker.lock().unwrap() = Some(this.nginx.wait_for_worker(previous));
            if this.measure {
                let split = measure(this.nginx.port);
                this.seen.lock().unwrap().push((weight, split));
            }
        })
        .await
        .unwrap();
        let verdict = if Some(weight) == self.fail_at {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        Ok(JudgeOutcome {
            verdict,
            score: None,
            reasons: vec![format!("{verdict:?} at {weight}")],
        })
    }
}

fn plan(setup: &Setup) -> Plan {
    let mut steps = String::new();
    for weight in [5, 20, 50, 100] {
        steps.push_str(&format!(
            "  - setWeight: {weight}\n  - analysis: {{config: live, interval: 1s, lookback: 1m}}\n"
        ));
    }
    let reload = setup.nginx.reload_command();
    let reload = reload
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Plan::from_yaml(&format!(
        "name: live\nrouter:\n  nginx:\n    upstreamFile: {:?}\n    upstream: app\n    stable: \"127.0.0.1:{}\"\n\
         \x20   canary: \"127.0.0.1:{}\"\n    serverOptions: max_fails=0\n    reload: [{reload}]\n\
         judge: {{url: \"http://unused.invalid\", baseline: {{scope: s}}, canary: {{scope: c}}}}\nsteps:\n{steps}",
        setup.upstream.display(),
        setup.stable.port,
        setup.canary.port,
    ))
    .unwrap()
}

struct Setup {
    stable: Backend,
    canary: Backend,
    nginx: Arc<NginxProcess>,
    upstream: PathBuf,
    directory: tempfile::TempDir,
    config: NginxConfig,
}

fn setup() -> Setup {
    let directory = tempfile::tempdir().unwrap();
    let stable = Backend::start("stable");
    let canary = Backend::start("canary");
    let upstream = directory.path().join("upstream.conf");
    let config = NginxConfig {
        upstream_file: upstream.clone(),
        upstream: "app".into(),
        stable: format!("127.0.0.1:{}", stable.port),
        canary: format!("127.0.0.1:{}", canary.port),
        server_options: Some("max_fails=0".into()),
        test: None,
        reload: vec!["true".into()],
    };
    // Before nginx starts, everything goes to stable.
    std::fs::write(&upstream, config.render(Weight::ZERO)).unwrap();
    let nginx = Arc::new(NginxProcess::start(directory.path(), &upstream));
    Setup {
        stable,
        canary,
        nginx,
        upstream,
        directory,
        config,
    }
}

fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_millis(1_700_000_000_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_follows_the_rollout_exactly() {
    let setup = setup();
    let port = setup.nginx.port;
    let worker = setup.nginx.wait_for_worker(None);
    let at_zero = tokio::task::spawn_blocking(move || measure(port))
        .await
        .unwrap();
    assert_eq!(
        at_zero,
        Split {
            canary: 0,
            stable: REQUESTS,
            failed: 0
        }
    );

    let judge = MeasuringJudge {
        nginx: setup.nginx.clone(),
        worker: Arc::new(Mutex::new(Some(worker))),
        measure: true,
        fail_at: None,
        seen: Arc::default(),
    };
    let plan = plan(&setup);
    let RouterConfigNginx(config) = RouterConfigNginx::of(&plan);
    let router = Nginx::new(config);
    let store = FileStore::new(setup.directory.path().join("state.json"));
    let mut rollout = Rollout::start(plan, store, router, judge.clone(), clock(), false)
        .await
        .unwrap();
    assert_eq!(rollout.run().await.unwrap(), Phase::Completed);

    let seen = judge.seen.lock().unwrap().clone();
    let expected: Vec<(Weight, Split)> = [5, 20, 50, 100]
        .into_iter()
        .map(|percent| {
            let canary = REQUESTS * percent / 100;
            let split = Split {
                canary,
                stable: REQUESTS - canary,
                failed: 0,
            };
            (Weight::new(percent).unwrap(), split)
        })
        .collect();
    assert_eq!(seen, expected, "{}", setup.nginx.error_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_under_traffic_returns_everything_to_stable_without_a_failed_request() {
    let setup = setup();
    let worker = setup.nginx.wait_for_worker(None);
    // Continuous traffic through every reload of the rollout and of the abort.
    let stop = Arc::new(AtomicBool::new(false));
    let port = setup.nginx.port;
    let traffic = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut split = Split::default();
            while !stop.load(Ordering::SeqCst) {
                match get(port, "/").as_deref() {
                    Ok("canary") => split.canary += 1,
                    Ok(_) => split.stable += 1,
                    Err(_) => split.failed += 1,
                }
            }
            split
        })
    };
    // The judge's own requests interleave with the traffic, so counts are not exact here;
    // they prove that each step sent traffic to the canary.
    let judge = MeasuringJudge {
        nginx: setup.nginx.clone(),
        worker: Arc::new(Mutex::new(Some(worker))),
        measure: true,
        fail_at: Weight::new(50),
        seen: Arc::default(),
    };
    let plan = plan(&setup);
    let RouterConfigNginx(config) = RouterConfigNginx::of(&plan);
    let store = FileStore::new(setup.directory.path().join("state.json"));
    let mut rollout = Rollout::start(
        plan,
        store,
        Nginx::new(config),
        judge.clone(),
        clock(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(rollout.run().await.unwrap(), Phase::Aborted);
    let message = rollout.state().message.clone().unwrap_or_default();
    assert!(message.contains("Fail at 50 %"), "{message}");
    let previous = *judge.worker.lock().unwrap();
    let nginx = setup.nginx.clone();
    tokio::task::spawn_blocking(move || nginx.wait_for_worker(previous))
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let during = traffic.join().unwrap();
    assert_eq!(
        during.failed, 0,
        "failed requests across reloads: {during:?}"
    );
    assert!(during.stable > 0, "the traffic ran: {during:?}");
    let seen = judge.seen.lock().unwrap().clone();
    let weights: Vec<u32> = seen.iter().map(|(weight, _)| weight.canary()).collect();
    assert_eq!(weights, [5, 20, 50]);
    for (weight, split) in seen {
        assert_eq!(split.failed, 0, "at {weight}: {split:?}");
        assert!(
            split.canary > 0 && split.stable > 0,
            "at {weight}: {split:?}"
        );
    }

    let after = tokio::task::spawn_blocking(move || measure(port))
        .await
        .unwrap();
    assert_eq!(
        after,
        Split {
            canary: 0,
            stable: REQUESTS,
            failed: 0
        }
    );

    // The router alone: an abort after the abort is a harmless rewrite.
    let router = Nginx::new(NginxConfig {
        reload: setup.nginx.reload_command(),
        ..setup.config.clone()
    });
    let write = router
        .set_weight(WeightChange {
            from: Some(Weight::ZERO),
            to: Weight::ZERO,
            force: true,
        })
        .await
        .unwrap();
    assert!(!write.changed);
}

struct RouterConfigNginx(NginxConfig);

impl RouterConfigNginx {
    fn of(plan: &Plan) -> Self {
        match &plan.router {
            serin_rollout::RouterConfig::Nginx(config) => RouterConfigNginx(config.clone()),
            other => panic!("not an nginx plan: {other:?}"),
        }
    }
}
