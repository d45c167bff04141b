//! Accounts, tokens, rooms, memberships and messages.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ids are UUIDs without dashes; 36 leaves room for other schemes.
const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    PasswordHash,
    CreatedAt,
    LastSeen,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Rooms {
    Table,
    Id,
    Kind,
    Name,
    DmKey,
    CreatedBy,
    CreatedAt,
    LastSeq,
}

#[derive(DeriveIden)]
enum RoomMembers {
    Table,
    RoomId,
    UserId,
    Role,
    JoinedAt,
    LastReadSeq,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    RoomId,
    Seq,
    SenderId,
    ClientId,
    Body,
    Attachments,
    ReplyTo,
    CreatedAt,
    EditedAt,
    Deleted,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(ID_LEN)
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(id_col(Users::Id).primary_key())
                .col(
                    ColumnDef::new(Users::Username)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Users::DisplayName)
                        .string_len(200)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Users::PasswordHash)
                        .string_len(255)
                        .not_null(),
                )
                .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Users::LastSeen).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tokens::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Tokens::TokenHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(id_col(Tokens::UserId))
                .col(ColumnDef::new(Tokens::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Tokens::ExpiresAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tokens_user")
                .table(Tokens::Table)
                .col(Tokens::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Rooms::Table)
                .if_not_exists()
                .col(id_col(Rooms::Id).primary_key())
                .col(ColumnDef::new(Rooms::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Rooms::Name).string_len(200).null())
                .col(
                    ColumnDef::new(Rooms::DmKey)
                        .string_len(80)
                        .null()
                        .unique_key(),
                )
                .col(id_col(Rooms::CreatedBy))
                .col(ColumnDef::new(Rooms::CreatedAt).big_integer().not_null())
                .col(
                    ColumnDef::new(Rooms::LastSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RoomMembers::Table)
                .if_not_exists()
                .col(id_col(RoomMembers::RoomId))
                .col(id_col(RoomMembers::UserId))
                .col(ColumnDef::new(RoomMembers::Role).string_len(16).not_null())
                .col(
                    ColumnDef::new(RoomMembers::JoinedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoomMembers::LastReadSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .primary_key(
                    Index::create()
                        .col(RoomMembers::RoomId)
                        .col(RoomMembers::UserId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_members_user")
                .table(RoomMembers::Table)
                .col(RoomMembers::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Messages::Table)
                .if_not_exists()
                .col(id_col(Messages::Id).primary_key())
                .col(id_col(Messages::RoomId))
                .col(ColumnDef::new(Messages::Seq).big_integer().not_null())
                .col(id_col(Messages::SenderId))
                .col(ColumnDef::new(Messages::ClientId).string_len(64).not_null())
                .col(ColumnDef::new(Messages::Body).text().not_null())
                .col(ColumnDef::new(Messages::Attachments).text().null())
                .col(ColumnDef::new(Messages::ReplyTo).string_len(ID_LEN).null())
                .col(ColumnDef::new(Messages::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Messages::EditedAt).big_integer().null())
                .col(
                    ColumnDef::new(Messages::Deleted)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_messages_room_seq")
                .table(Messages::Table)
                .col(Messages::RoomId)
                .col(Messages::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_messages_client")
                .table(Messages::Table)
                .col(Messages::RoomId)
                .col(Messages::SenderId)
                .col(Messages::ClientId)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Messages::Table.into_iden(),
            RoomMembers::Table.into_iden(),
            Rooms::Table.into_iden(),
            Tokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
