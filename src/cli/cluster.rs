//! `qcheck cluster status|url|start|stop|destroy`: the embedded PostgreSQL's lifecycle (with
//! `--citus-workers N`, the coordinator and its workers together).

use super::{ClusterCommand, Global, Outcome};
use crate::cluster::StopOutcome;
use crate::db::Target;
use crate::error::Result;
use crate::report::{self, Format};
use crate::topology;

pub(super) fn run(g: &Global, cmd: &ClusterCommand) -> Result<Outcome> {
    let cluster = Target::embedded_cluster(&g.target_options())?;
    match cmd {
        ClusterCommand::Status if topology::is_citus(&cluster) => {
            let nodes = topology::node_statuses(&cluster)?;
            if g.format == Format::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&nodes).expect("status serializes")
                );
            } else {
                let headers = ["node", "port", "state", "socket", "data", "log"];
                let rows: Vec<Vec<String>> = nodes
                    .iter()
                    .map(|n| {
                        vec![
                            n.role.clone(),
                            n.port.to_string(),
                            n.state.clone(),
                            n.status.socket_dir.display().to_string(),
                            n.status.data_dir.display().to_string(),
                            n.status.log_file.display().to_string(),
                        ]
                    })
                    .collect();
                println!("{}", report::table(g.format, &headers, &rows));
                let pairs = [
                    ("topology", topology_line(&cluster)),
                    ("server runs as", nodes[0].status.server_user.clone()),
                    ("url", cluster.url(crate::cluster::DATABASE)),
                ];
                println!("{}", report::key_values(g.format, &pairs));
            }
        }
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
            let root = if topology::is_citus(&cluster) {
                cluster.home.parent().unwrap_or(&cluster.home).to_path_buf()
            } else {
                cluster.root()
            };
            eprintln!("qcheck: cluster in {} destroyed", root.display());
        }
    }
    Ok(Outcome::Success)
}

/// The topology as the target line says it.
fn topology_line(cluster: &crate::cluster::Cluster) -> String {
    Target::Embedded(cluster.clone()).describe()
}
