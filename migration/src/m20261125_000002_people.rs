//! People and message features: profile fields, settings, contacts, blocks, broadcast lists,
//! delivered receipts, group avatars and message edit history.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum Users {
    Table,
    About,
    Email,
    Phone,
    AvatarMedia,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Rooms {
    Table,
    AvatarMedia,
}

#[derive(DeriveIden)]
enum RoomMembers {
    Table,
    DeliveredSeq,
}

#[derive(DeriveIden)]
enum UserSettings {
    Table,
    UserId,
    Settings,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    OwnerId,
    ContactId,
    Nickname,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Blocks {
    Table,
    BlockerId,
    BlockedId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BroadcastLists {
    Table,
    Id,
    OwnerId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BroadcastListMembers {
    Table,
    ListId,
    UserId,
}

#[derive(DeriveIden)]
enum MessageEdits {
    Table,
    MessageId,
    Version,
    Body,
    EditedAt,
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
        // SQLite adds one column per ALTER TABLE.
        let user_cols = [
            ColumnDef::new(Users::About)
                .string_len(500)
                .null()
                .to_owned(),
            ColumnDef::new(Users::Email)
                .string_len(254)
                .null()
                .to_owned(),
            ColumnDef::new(Users::Phone)
                .string_len(20)
                .null()
                .to_owned(),
            ColumnDef::new(Users::AvatarMedia)
                .string_len(ID_LEN)
                .null()
                .to_owned(),
            ColumnDef::new(Users::DeletedAt)
                .big_integer()
                .null()
                .to_owned(),
        ];
        for col in user_cols {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_users_phone")
                .table(Users::Table)
                .col(Users::Phone)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_users_email")
                .table(Users::Table)
                .col(Users::Email)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Rooms::Table)
                .add_column(ColumnDef::new(Rooms::AvatarMedia).string_len(ID_LEN).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(RoomMembers::Table)
                .add_column(
                    ColumnDef::new(RoomMembers::DeliveredSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UserSettings::Table)
                .if_not_exists()
                .col(id_col(UserSettings::UserId).primary_key())
                .col(ColumnDef::new(UserSettings::Settings).text().not_null())
                .col(
                    ColumnDef::new(UserSettings::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .if_not_exists()
                .col(id_col(Contacts::OwnerId))
                .col(id_col(Contacts::ContactId))
                .col(ColumnDef::new(Contacts::Nickname).string_len(100).null())
                .col(ColumnDef::new(Contacts::CreatedAt).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Contacts::OwnerId)
                        .col(Contacts::ContactId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Blocks::Table)
                .if_not_exists()
                .col(id_col(Blocks::BlockerId))
                .col(id_col(Blocks::BlockedId))
                .col(ColumnDef::new(Blocks::CreatedAt).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Blocks::BlockerId)
                        .col(Blocks::BlockedId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BroadcastLists::Table)
                .if_not_exists()
                .col(id_col(BroadcastLists::Id).primary_key())
                .col(id_col(BroadcastLists::OwnerId))
                .col(
                    ColumnDef::new(BroadcastLists::Name)
                        .string_len(100)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(BroadcastLists::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_lists_owner")
                .table(BroadcastLists::Table)
                .col(BroadcastLists::OwnerId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BroadcastListMembers::Table)
                .if_not_exists()
                .col(id_col(BroadcastListMembers::ListId))
                .col(id_col(BroadcastListMembers::UserId))
                .primary_key(
                    Index::create()
                        .col(BroadcastListMembers::ListId)
                        .col(BroadcastListMembers::UserId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MessageEdits::Table)
                .if_not_exists()
                .col(id_col(MessageEdits::MessageId))
                .col(ColumnDef::new(MessageEdits::Version).integer().not_null())
                .col(ColumnDef::new(MessageEdits::Body).text().not_null())
                .col(
                    ColumnDef::new(MessageEdits::EditedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(MessageEdits::MessageId)
                        .col(MessageEdits::Version),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            MessageEdits::Table.into_iden(),
            BroadcastListMembers::Table.into_iden(),
            BroadcastLists::Table.into_iden(),
            Blocks::Table.into_iden(),
            Contacts::Table.into_iden(),
            UserSettings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
