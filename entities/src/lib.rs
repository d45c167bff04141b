//! SeaORM entities of the chat server, one module per table. The schema itself is created by the
//! `migration` crate; these modules must stay in step with it.
//!
//! Ids are strings (UUIDs without dashes) so that several server processes can mint them without
//! coordination; times are milliseconds since the Unix epoch.

pub mod admin_bootstrap_code;
pub mod block;
pub mod broadcast_list;
pub mod broadcast_list_member;
pub mod contact;
pub mod daily_counter;
pub mod group_invitation;
pub mod media;
pub mod media_room;
pub mod message;
pub mod message_edit;
pub mod message_reaction;
pub mod oauth_link;
pub mod oauth_state;
pub mod pin;
pub mod push_mute;
pub mod push_setting;
pub mod push_subscription;
pub mod room;
pub mod room_member;
pub mod room_setting;
pub mod star;
pub mod token;
pub mod upload;
pub mod user;
pub mod user_settings;
pub mod verification_code;
pub mod verified_contact;

pub mod prelude {
    pub use super::media::Entity as Media;
    pub use super::media_room::Entity as MediaRoom;
    pub use super::message::Entity as Message;
    pub use super::push_mute::Entity as PushMute;
    pub use super::push_setting::Entity as PushSetting;
    pub use super::push_subscription::Entity as PushSubscription;
    pub use super::room::Entity as Room;
    pub use super::room_member::Entity as RoomMember;
    pub use super::token::Entity as Token;
    pub use super::user::Entity as User;
}
