//! `idx_messages_unread` on messages (room_id, seq, sender_id, deleted): the unread counts of a
//! user's rooms, at every connect ("messages after my read mark, not mine, not deleted"), read
//! this index alone instead of looking up every counted row.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    RoomId,
    Seq,
    SenderId,
    Deleted,
}

const NAME: &str = "idx_messages_unread";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(Messages::Table)
                .col(Messages::RoomId)
                .col(Messages::Seq)
                .col(Messages::SenderId)
                .col(Messages::Deleted)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(NAME).table(Messages::Table).to_owned())
            .await
    }
}
