//! Reactions and mentions (issue 18).
//!
//! - `message_reactions`: one row per (message, user, emoji), kept when the reaction is taken back
//!   (`active` false) so that writes copied out of order (several Syncers) settle on the newest
//!   (`at`, last writer wins).
//! - `messages.mentions`: JSON array of the member ids a message names as `@username`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Mentions,
}

#[derive(DeriveIden)]
enum MessageReactions {
    Table,
    MessageId,
    UserId,
    Emoji,
    RoomId,
    Active,
    At,
}

const ID_LEN: u32 = 36;
const INDEX: &str = "idx_message_reactions_room";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::Mentions).text().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MessageReactions::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(MessageReactions::MessageId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MessageReactions::UserId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                // Up to 16 chars of one emoji in UTF-8 (bounded by the frame check).
                .col(
                    ColumnDef::new(MessageReactions::Emoji)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MessageReactions::RoomId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MessageReactions::Active)
                        .boolean()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MessageReactions::At)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(MessageReactions::MessageId)
                        .col(MessageReactions::UserId)
                        .col(MessageReactions::Emoji),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(MessageReactions::Table)
                .col(MessageReactions::RoomId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MessageReactions::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::Mentions)
                .to_owned(),
        )
        .await
    }
}
