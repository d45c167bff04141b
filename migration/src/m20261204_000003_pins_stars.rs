//! Pins, stars and forwarding (issue 18).
//!
//! - `pins`: messages pinned in a room (by whom, when).
//! - `stars`: messages a user starred (private to them).
//! - `room_settings`: per-room settings; `pin_policy` is `members` (anyone in the room pins) or
//!   `admins` (owners and admins only).
//! - `messages.forwarded`: the message was forwarded from another conversation.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Forwarded,
}

#[derive(DeriveIden)]
enum Pins {
    Table,
    RoomId,
    MessageId,
    PinnedBy,
    At,
}

#[derive(DeriveIden)]
enum Stars {
    Table,
    UserId,
    MessageId,
    RoomId,
    At,
}

#[derive(DeriveIden)]
enum RoomSettings {
    Table,
    RoomId,
    PinPolicy,
}

const ID_LEN: u32 = 36;

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(ID_LEN)
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(
                    ColumnDef::new(Messages::Forwarded)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Pins::Table)
                .if_not_exists()
                .col(id_col(Pins::RoomId))
                .col(id_col(Pins::MessageId))
                .col(id_col(Pins::PinnedBy))
                .col(ColumnDef::new(Pins::At).big_integer().not_null())
                .primary_key(Index::create().col(Pins::RoomId).col(Pins::MessageId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Stars::Table)
                .if_not_exists()
                .col(id_col(Stars::UserId))
                .col(id_col(Stars::MessageId))
                .col(id_col(Stars::RoomId))
                .col(ColumnDef::new(Stars::At).big_integer().not_null())
                .primary_key(Index::create().col(Stars::UserId).col(Stars::MessageId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RoomSettings::Table)
                .if_not_exists()
                .col(id_col(RoomSettings::RoomId).primary_key())
                .col(
                    ColumnDef::new(RoomSettings::PinPolicy)
                        .string_len(16)
                        .not_null()
                        .default("members"),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Pins::Table.into_iden(),
            Stars::Table.into_iden(),
            RoomSettings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::Forwarded)
                .to_owned(),
        )
        .await
    }
}
