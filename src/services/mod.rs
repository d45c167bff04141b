//! Domain services: each owns the rules of one domain (what is valid, who may do what, who is
//! told) over the store and the actors, and knows nothing of HTTP. A handler extracts the
//! request, calls one method and wraps the result in a typed body of `chat_protocol::api`.
//!
//! - [`admin`]: live statistics, accounts (ban, sessions, the admin role and its bootstrap),
//!   dead letters, closing conversations and deleting messages for everyone.
//! - [`curation`]: pinned messages and the pin policy, starred messages.
//! - [`oauth`]: sign-in with provider accounts (Facebook, Twitter/X), linking them, the
//!   linked accounts.
//! - [`people`]: profiles, settings, password and sessions, account deletion, contacts and
//!   address-book matching, blocks, broadcast lists.
//! - [`push`]: push subscriptions, push settings and mutes, SMS invitations.
//! - [`rooms`]: who counts as a member, who manages a group (shared by the room, invitation and
//!   pin routes).

pub mod admin;
pub mod curation;
pub mod oauth;
pub mod people;
pub mod push;
pub mod rooms;
