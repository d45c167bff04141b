//! Domain services: each owns the rules of one domain (what is valid, who may do what, who is
//! told) over the store and the actors, and knows nothing of HTTP. A handler extracts the
//! request, calls one method and wraps the result in a typed body of `chat_protocol::api`.
//!
//! - [`admin`]: live statistics, accounts (ban, sessions, the admin role and its bootstrap),
//!   dead letters, closing conversations and deleting messages for everyone.
//! - [`auth`]: signing up, in and out with a username and password, issuing session tokens
//!   (for OAuth sign-ins too), the account a token names.
//! - [`curation`]: pinned messages and the pin policy, starred messages.
//! - [`oauth`]: sign-in with provider accounts (Facebook, Twitter/X), linking them, the
//!   linked accounts.
//! - [`media`]: upload caps and quotas, turning a stored upload into a media item, an item's
//!   status for those who may see it.
//! - [`people`]: profiles, settings, password and sessions, account deletion, contacts and
//!   address-book matching, blocks, broadcast lists.
//! - [`presence`]: who of the people the caller shares a conversation with is online (over
//!   HTTP; live presence is the `Presence` actor's).
//! - [`push`]: push subscriptions, push settings and mutes, SMS invitations.
//! - [`rooms`]: creating groups and opening dms, listing, details, history, membership and
//!   roles, group name and avatar, message versions; and who counts as a member, who manages a
//!   group (shared by the room, invitation and pin routes).
//! - [`invitations`]: invitations to groups (made when someone's `privacy.group_adds` does not
//!   let the adder add them).
//! - [`search`]: message search over the caller's rooms.
//! - [`verify`]: verifying the account's phone numbers and e-mail address with codes.

pub mod admin;
pub mod auth;
pub mod curation;
pub mod invitations;
pub mod media;
pub mod oauth;
pub mod people;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod search;
pub mod verify;
