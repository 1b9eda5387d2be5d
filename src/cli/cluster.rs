//! `qcheck cluster status|url|start|stop|destroy`: the embedded PostgreSQL's lifecycle.

use super::{ClusterCommand, Global, Outcome};
use crate::cluster::StopOutcome;
use crate::db::Target;
use crate::error::Result;
use crate::report::{self, Format};

pub(super) fn run(g: &Global, cmd: &ClusterCommand) -> Result<Outcome> {
    let cluster = Target::embedded_cluster(&g.target_options())?;
    match cmd {
        ClusterCommand::Status => {
            let s = cluster.status()?;
            if g.format == Format::Json {
                print!("{}", report::json::document(&s));
            } else {
                let state = match (s.initialized, s.running) {
                    (false, _) => "not initialized (created on first use)",
                    (true, true) => "running",
                    (true, false) => "stopped",
                };
                let pairs = [
                    ("state", state.to_string()),
                    ("PostgreSQL", s.version.clone()),
                    ("binaries", s.bin_dir.display().to_string()),
                    ("home", s.home.display().to_string()),
                    ("data", s.data_dir.display().to_string()),
                    ("socket", s.socket_dir.display().to_string()),
                    ("server runs as", s.server_user.clone()),
                    ("log", s.log_file.display().to_string()),
                    ("url", cluster.url(crate::cluster::DATABASE)),
                ];
                println!("{}", report::key_values(g.format, &pairs));
            }
        }
        ClusterCommand::Url | ClusterCommand::Start => {
            let target = Target::Embedded(cluster.clone());
            let mut session = target.open()?;
            session.keep_running()?;
            if matches!(cmd, ClusterCommand::Url) {
                let url = cluster.url(crate::cluster::DATABASE);
                if g.format == Format::Json {
                    #[derive(serde::Serialize)]
                    struct UrlDocument {
                        url: String,
                    }
                    print!("{}", report::json::document(UrlDocument { url }));
                } else {
                    println!("{url}");
                }
            } else {
                eprintln!("qcheck: cluster running; stop it with `qcheck cluster stop`");
            }
        }
        ClusterCommand::Stop => {
            let message = match cluster.stop_when_unused()? {
                StopOutcome::Stopped => "cluster stopped",
                StopOutcome::NotRunning => "cluster was not running",
                StopOutcome::InUse => {
                    "cluster in use by other qcheck processes: the last of them stops it"
                }
            };
            eprintln!("qcheck: {message}");
        }
        ClusterCommand::Destroy => {
            cluster.destroy()?;
            eprintln!("qcheck: cluster in {} destroyed", cluster.root().display());
        }
    }
    Ok(Outcome::Success)
}
