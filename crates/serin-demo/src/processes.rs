//! The processes a scenario starts (the two versions, Prometheus, nginx), each stopped when its handle is dropped.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ScenarioError;

/// A child process, stopped and reaped on drop (so an error, a panic or Ctrl-C handled by
/// the scenario leaves nothing running).
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
}

impl Process {
    fn spawn(name: &str, command: &mut Command) -> Result<Self, ScenarioError> {
        let child =
            command
                .stdin(Stdio::null())
                .spawn()
                .map_err(|source| ScenarioError::Spawn {
                    program: format!("{:?}", command.get_program()),
                    source,
                })?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// Fails if the process has exited.
    pub fn check_running(&mut self) -> Result<(), ScenarioError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(ScenarioError::Exited {
                name: self.name.clone(),
                status: status.to_string(),
            }),
            Err(source) => Err(ScenarioError::Io {
                what: format!("checking {}", self.name),
                source,
            }),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    /// Asks the process to stop (SIGTERM: nginx stops its workers, Prometheus closes its
    /// database), and kills it after 5 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1 (for programs that take a port,
/// not a socket: Prometheus and nginx).
pub fn free_port() -> Result<u16, ScenarioError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| ScenarioError::Io {
        what: "finding a free port".to_owned(),
        source,
    })?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|source| ScenarioError::Io {
            what: "finding a free port".to_owned(),
            source,
        })
}

fn log_file(path: &Path) -> Result<std::fs::File, ScenarioError> {
    std::fs::File::create(path).map_err(|source| ScenarioError::Io {
        what: format!("creating {}", path.display()),
        source,
    })
}

/// One version of the demo service, running as `serin-demo serve`.
#[derive(Debug)]
pub struct Version {
    /// The process.
    pub process: Process,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Version {
    /// Starts `program serve ARGS --listen 127.0.0.1:0` and reads the address it bound
    /// from its first line of output.
    pub fn start(program: &Path, args: &[String], log: &Path) -> Result<Self, ScenarioError> {
        let mut command = Command::new(program);
        command
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(log_file(log)?);
        let mut process = Process::spawn("demo service", &mut command)?;
        let stdout = process
            .child
            .stdout
            .take()
            .ok_or_else(|| ScenarioError::Startup {
                name: "demo service".to_owned(),
                detail: "no standard output".to_owned(),
            })?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|address| address.parse().ok())
            .ok_or_else(|| ScenarioError::Startup {
                name: format!("demo service {args:?}"),
                detail: format!(
                    "expected 'listening on ADDRESS', read {line:?} (log: {})",
                    log.display()
                ),
            })?;
        Ok(Self { process, address })
    }
}

/// Waits until `ready` holds, checking every 50 ms for up to `limit`.
pub async fn wait_until(
    name: &str,
    process: &mut Process,
    limit: Duration,
    mut ready: impl AsyncFnMut() -> bool,
) -> Result<(), ScenarioError> {
    let deadline = Instant::now() + limit;
    loop {
        process.check_running()?;
        if ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ScenarioError::Startup {
                name: name.to_owned(),
                detail: format!("not ready after {} s", limit.as_secs()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real Prometheus scraping the two versions every second.
#[derive(Debug)]
pub struct Prometheus {
    /// The process.
    pub process: Process,
    /// Its base URL.
    pub url: String,
}

impl Prometheus {
    /// Writes its config into `dir` and starts it; waits until it is ready.
    pub async fn start(
        dir: &Path,
        targets: &[SocketAddr],
        client: &reqwest::Client,
    ) -> Result<Self, ScenarioError> {
        let port = free_port()?;
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: demo\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n\
             \x20   static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        write(&config_path, &config)?;
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("prometheus.log"))?);
        let mut process = Process::spawn("prometheus", &mut command)?;
        let url = format!("http://127.0.0.1:{port}");
        let ready = format!("{url}/-/ready");
        wait_until(
            "prometheus",
            &mut process,
            Duration::from_secs(30),
            async || matches!(client.get(&ready).send().await, Ok(r) if r.status().is_success()),
        )
        .await?;
        Ok(Self { process, url })
    }
}

/// A real nginx in front of the two versions, its upstream in a file the plain-nginx
/// router rewrites (and reloads nginx after).
#[derive(Debug)]
pub struct Nginx {
    /// The process (the master).
    pub process: Process,
    /// Where users reach the service.
    pub url: String,
    /// The upstream file.
    pub upstream_file: PathBuf,
    /// The access log: one line per request, `uri status upstream_address request_time`.
    pub access_log: PathBuf,
}

/// Where Debian's nginx is.
pub const NGINX: &str = "/usr/sbin/nginx";

impl Nginx {
    /// Writes its config into `dir` (the upstream file must exist) and starts it in the
    /// foreground; waits until it answers.
    pub async fn start(
        dir: &Path,
        upstream_file: &Path,
        client: &reqwest::Client,
    ) -> Result<Self, ScenarioError> {
        let port = free_port()?;
        let p = dir.display();
        let access_log = dir.join("access.log");
        // `user` matters only when started as root (workers keep access to the prefix);
        // otherwise nginx ignores it with a warning.
        let config = format!(
            "user root;\nworker_processes 1;\npid {p}/nginx.pid;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  log_format serin '$uri $status $upstream_addr $request_time';\n\
             \x20 access_log {} serin;\n\
             \x20 client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
             \x20 fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             \x20 include {};\n  server {{\n    listen 127.0.0.1:{port};\n\
             \x20   location / {{ proxy_pass http://app; }}\n  }}\n}}\n",
            access_log.display(),
            upstream_file.display()
        );
        write(&dir.join("nginx.conf"), &config)?;
        let args = Self::args(dir);
        let mut command = Command::new(NGINX);
        command
            .args(&args)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("nginx.stderr"))?);
        let mut process = Process::spawn("nginx", &mut command)?;
        let url = format!("http://127.0.0.1:{port}");
        let probe = format!("{url}/healthz");
        wait_until("nginx", &mut process, Duration::from_secs(20), async || {
            client.get(&probe).send().await.is_ok()
        })
        .await?;
        Ok(Self {
            process,
            url,
            upstream_file: upstream_file.to_owned(),
            access_log,
        })
    }

    /// nginx's options for the prefix `dir`: its files and logs all in it.
    fn args(dir: &Path) -> Vec<String> {
        let p = dir.display();
        vec![
            "-p".to_owned(),
            format!("{p}/"),
            "-c".to_owned(),
            format!("{p}/nginx.conf"),
            "-e".to_owned(),
            format!("{p}/error.log"),
        ]
    }

    /// The command that makes the nginx of prefix `dir` reload its config (graceful:
    /// requests in flight finish on the old workers).
    pub fn reload_command(dir: &Path) -> Vec<String> {
        let mut command = vec![NGINX.to_owned()];
        command.extend(Self::args(dir));
        command.extend(["-s".to_owned(), "reload".to_owned()]);
        command
    }
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: &str) -> Result<(), ScenarioError> {
    std::fs::write(path, text).map_err(|source| ScenarioError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}
