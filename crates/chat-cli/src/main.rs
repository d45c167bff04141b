//! `chat-cli`: a command-line client for the chat server, for demos and scripting.
//!
//! It speaks the server's HTTP API (`/api/...`) and WebSocket protocol v1 (`/ws`, JSON text
//! frames). The program's output (tokens, room ids, messages, events) goes to stdout, one item
//! per line; diagnostics and server `error` frames go to stderr (more with `RUST_LOG=debug`).
//!
//! Global options: `--server URL` (env `CHAT_SERVER`, default `http://127.0.0.1:8080`; the
//! WebSocket URL is derived from it, http→ws and https→wss) and `--token TOKEN` (env
//! `CHAT_TOKEN`), which every command except `register` and `login` needs.
//!
//! ```text
//! chat-cli register alice --display-name Alice --password s3cret   # prints the token
//! export CHAT_TOKEN=$(chat-cli login alice --password s3cret)
//! echo s3cret | chat-cli login alice        # password from CHAT_PASSWORD or stdin also work
//! chat-cli rooms                            # ID<TAB>KIND<TAB>NAME<TAB>last_seq=N<TAB>unread=N
//! ROOM=$(chat-cli dm bob)                   # the one-to-one room with bob (created once)
//! TEAM=$(chat-cli group Team bob carol)     # a new group room
//! chat-cli send "$ROOM" hello there         # waits for the ack, prints seq=N id=ID
//! chat-cli history "$ROOM" --limit 50       # [seq] from: body, oldest first
//! chat-cli history "$ROOM" --before 51      # the page before seq 51
//! chat-cli listen                           # messages, typing, presence until Ctrl-C
//! chat-cli listen "$ROOM" "$TEAM" --json    # raw frames as JSON lines, only those rooms
//! chat-cli chat "$ROOM"                     # interactive: last 20 messages, then live;
//!                                           # each stdin line is sent, EOF or Ctrl-C quits
//! chat-cli logout
//! ```
//!
//! A message prints as `[ROOM SEQ] FROM: BODY`, where FROM is the sender's username when the
//! client knows it (from `hello` and room member lists) and the user id otherwise. Newlines and
//! control characters in bodies are escaped so every item stays on one line.

mod api;
mod commands;
mod conn;
mod output;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use api::Api;
use commands::*;
use output::is_broken_pipe;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Parser)]
#[command(
    name = "chat-cli",
    version,
    about = "Command-line client for the chat server"
)]
struct Cli {
    /// Server base URL (http:// or https://); the WebSocket URL is derived from it.
    #[arg(
        long,
        global = true,
        env = "CHAT_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,

    /// Session token, as printed by `login` or `register`.
    #[arg(long, global = true, env = "CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account and print its session token.
    Register {
        username: String,
        /// Name shown to other people (defaults to the username on the server).
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Log in and print a session token.
    Login {
        username: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// End the session of --token.
    Logout,
    /// List your rooms: ID, KIND, NAME, last_seq=N, unread=N (tab-separated).
    Rooms,
    /// Open (or find) the one-to-one room with a user and print its id.
    Dm { username: String },
    /// Create a group room with the given members and print its id.
    Group {
        name: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Send one message, wait for the server's ack and print `seq=N id=ID`.
    Send {
        room: String,
        /// Message text; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Print a room's messages, oldest first, as `[seq] from: body`.
    History {
        room: String,
        /// How many messages (the server allows at most 100).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Only messages with a seq lower than this one.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Print incoming messages, typing and presence events until Ctrl-C.
    Listen {
        /// Only show these rooms (default: all of yours).
        rooms: Vec<String>,
        /// Print each raw server frame as one JSON line instead.
        #[arg(long)]
        json: bool,
    },
    /// Chat in one room: shows recent and live messages, sends each line typed on stdin.
    Chat { room: String },
}

#[derive(Debug, Args)]
struct PasswordArg {
    /// Password; without it (or CHAT_PASSWORD) one line is read from stdin.
    #[arg(long, env = "CHAT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`chat-cli listen | head`): nothing to report.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chat-cli: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let api = Api::new(&cli.server, cli.token)?;
    match cli.command {
        Command::Register {
            username,
            display_name,
            password,
        } => register(&api, &username, display_name, password.password).await,
        Command::Login { username, password } => login(&api, &username, password.password).await,
        Command::Logout => logout(&api).await,
        Command::Rooms => list_rooms(&api).await,
        Command::Dm { username } => open_dm(&api, &username).await,
        Command::Group { name, members } => create_group(&api, &name, &members).await,
        Command::Send { room, text } => send_one(&api, &room, &text.join(" ")).await,
        Command::History {
            room,
            limit,
            before,
        } => history(&api, &room, limit, before).await,
        Command::Listen { rooms, json } => listen(&api, rooms, json).await,
        Command::Chat { room } => chat(&api, room).await,
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Only fails if a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
