//! `chat-server [--config FILE]`: serves with `./config.toml` (or FILE) and `CHAT__*` overrides.

use std::path::PathBuf;

use clap::Parser;

use chat_server::{config::Settings, startup::Application, telemetry};

/// Real-time chat server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (default: ./config.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::load(args.config.as_deref())?;
    telemetry::init(&settings.log.filter);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}
