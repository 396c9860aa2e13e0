//! `parley`: the TalkJS-compatible chat backend.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parley_server::{start, Running, Settings};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "A self-hosted chat backend speaking the TalkJS REST API v1"
)]
struct Cli {
    /// A TOML file that overrides the compiled-in defaults (config/default.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Write an app (or every configured app) as JSON Lines: users, conversations,
    /// participants, messages, reactions and files (docs/migrating.md).
    Export {
        /// The app to export; default: every app of the configuration.
        #[arg(long, value_name = "ID")]
        app: Option<String>,
        /// The file to write; `-` or nothing: standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Read the JSON Lines of `parley export` into the database (idempotent).
    Import {
        /// The file to read; `-`: standard input.
        file: PathBuf,
    },
    /// Copy an app from a TalkJS-compatible REST API (TalkJS, or another Parley) into the
    /// database; run it again after an interruption.
    Migrate {
        /// The source's base URL, e.g. https://api.talkjs.com
        #[arg(long, value_name = "URL")]
        from: String,
        /// The app ID at the source.
        #[arg(long, value_name = "ID")]
        app: String,
        /// The source app's secret key.
        #[arg(
            long,
            value_name = "KEY",
            env = "PARLEY_MIGRATE_KEY",
            hide_env_values = true
        )]
        key: String,
        /// The app to write into here; default: the same ID.
        #[arg(long, value_name = "ID")]
        to_app: Option<String>,
        /// Conversations migrated at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Print the OpenAPI 3.1 document of this build (as served at GET /openapi.json).
    Openapi {
        /// Write it to this file instead of standard output (docs/openapi.json in the repository).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
}

/// Logs to stderr: human-readable text, or one JSON object per line (`log.format = "json"`)
/// with the fields of the spans it happened in (the request's ID among them).
///
/// Lines go through a writer thread (requests never wait for stderr); it blocks a logger only
/// when 128k lines are waiting, so none is dropped, and the returned guard flushes it at exit.
fn init_logging(level: &str, json: bool) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("parley-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    guard
}

/// Runs a command-line tool to its end on a runtime of its own.
fn tool(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("parley: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parley: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_openapi(out: Option<&std::path::Path>) -> ExitCode {
    let document = parley_http::openapi_json();
    let written = match out {
        Some(path) => std::fs::write(path, document),
        None => std::io::Write::write_all(&mut std::io::stdout(), document.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley: cannot write the OpenAPI document: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A URL a local client can use, even when listening on all interfaces.
fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn print_welcome(running: &Running) {
    let Some((app, key)) = &running.dev_app else {
        return;
    };
    let base = base_url(running.addr);
    let key = key.expose();
    println!();
    println!("No app is configured, so Parley uses the development app `{app}`.");
    println!("Its secret key (kept in the database): {key}");
    println!();
    println!("Create a conversation:");
    println!(
        "  curl -X PUT {base}/v1/{app}/conversations/hello -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"participants\": [\"alice\", \"bob\"], \"subject\": \"Hello\"}}'"
    );
    println!("Read it back:");
    println!("  curl {base}/v1/{app}/conversations/hello -H 'Authorization: Bearer {key}'");
    println!();
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let running = start(settings).await?;
    tracing::info!(storage = %running.storage, "storage ready");
    tracing::info!("listening on {}", base_url(running.addr));
    if let Some(addr) = running.metrics_addr {
        tracing::info!("metrics on {}/metrics", base_url(addr));
    }
    print_welcome(&running);
    running.server.await?;
    if let Some(metrics) = running.metrics_handle {
        metrics.stop(true).await;
    }
    tracing::info!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi { out }) = &cli.command {
        return write_openapi(out.as_deref());
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("parley: {err:#}");
            return ExitCode::from(2);
        }
    };
    // Checked with the other settings when they were loaded.
    // The tools show progress on stderr: only warnings and errors are logged beside it.
    let level = match cli.command {
        None | Some(Command::Serve) => settings.log.level.as_str(),
        Some(_) => "warn",
    };
    let _flushed_at_exit = init_logging(level, settings.log.format == "json");
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi { .. } => {}
        Command::Export { app, out } => {
            return tool(parley_server::cli::export::run(
                &settings,
                app.as_deref(),
                out.as_deref(),
            ));
        }
        Command::Import { file } => {
            return tool(async {
                parley_server::cli::import::run(&settings, &file)
                    .await
                    .map(|_| ())
            });
        }
        Command::Migrate {
            from,
            app,
            key,
            to_app,
            concurrency,
        } => {
            let options = parley_server::cli::migrate::Options {
                from,
                app,
                key,
                to_app,
                concurrency,
            };
            return tool(async {
                parley_server::cli::migrate::run(&settings, &options)
                    .await
                    .map(|_| ())
            });
        }
        Command::Serve => {
            let result = actix_web::rt::System::new().block_on(serve(settings));
            if let Err(err) = result {
                // One line on stderr, where the log also goes: the log line would repeat it.
                eprintln!("parley: {err:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
