//! `chat-server [--config FILE]`: serves with `./config.toml` (or FILE) and `CHAT__*` overrides.
//! `chat-server admin grant|revoke USERNAME` gives or takes the admin role, with the same
//! configuration (it opens the database, applying pending migrations, and does not serve).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use chat_server::{config::Settings, startup::Application, store::Store, telemetry};

/// Real-time chat server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (default: ./config.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage the admin role (admins use /admin/ and /api/admin).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand, Debug)]
enum AdminAction {
    /// Make USERNAME an admin.
    Grant { username: String },
    /// Take the admin role from USERNAME.
    Revoke { username: String },
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::load(args.config.as_deref())?;
    telemetry::init(&settings.log.filter);
    match args.command {
        None => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
            // Drained and stopped (see `chat_server::shutdown`). Leave now: tearing the runtime
            // down would cancel whatever task still runs, and one holding a database connection
            // (a shutdown cut short by its timeout, say) panics in sqlx as it is dropped there.
            std::process::exit(0);
        }
        Some(Command::Admin { action }) => {
            let (username, admin) = match action {
                AdminAction::Grant { username } => (username, true),
                AdminAction::Revoke { username } => (username, false),
            };
            let store =
                Store::connect(&settings.database.url, settings.database.max_connections).await?;
            let name = username.trim().to_lowercase();
            let user = store
                .user_by_username(&name)
                .await?
                .filter(|u| u.deleted_at.is_none())
                .ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))?;
            store
                .set_admin(&chat_server::ids::UserId(user.id.clone()), admin)
                .await?;
            tracing::info!(user = %user.id, username = %name, admin, "admin role changed");
            eprintln!(
                "{name} is {}an admin",
                if admin { "now " } else { "no longer " }
            );
        }
    }
    Ok(())
}
