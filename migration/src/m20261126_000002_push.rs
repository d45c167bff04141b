//! Push notifications: subscriptions (Web Push and FCM), and the small per-user push settings
//! (push on/off, message preview, SMS fallback) and per-room mutes the Notifier respects.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ids are UUIDs without dashes; 36 leaves room for other schemes (as in the first migration).
const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum PushSubscriptions {
    Table,
    Id,
    UserId,
    Kind,
    Endpoint,
    EndpointHash,
    P256dh,
    Auth,
    Platform,
    Device,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PushSettings {
    Table,
    UserId,
    Enabled,
    Preview,
    SmsPhone,
    SmsFallback,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PushMutes {
    Table,
    UserId,
    RoomId,
    Until,
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
                .table(PushSubscriptions::Table)
                .if_not_exists()
                .col(id_col(PushSubscriptions::Id).primary_key())
                .col(id_col(PushSubscriptions::UserId))
                .col(
                    ColumnDef::new(PushSubscriptions::Kind)
                        .string_len(16)
                        .not_null(),
                )
                // A Web Push endpoint URL or an FCM registration token; either can be long, so
                // uniqueness is on its hash.
                .col(
                    ColumnDef::new(PushSubscriptions::Endpoint)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::EndpointHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::P256dh)
                        .string_len(128)
                        .null(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::Auth)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::Platform)
                        .string_len(16)
                        .null(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::Device)
                        .string_len(100)
                        .null(),
                )
                .col(
                    ColumnDef::new(PushSubscriptions::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_push_subscriptions_user")
                .table(PushSubscriptions::Table)
                .col(PushSubscriptions::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushSettings::Table)
                .if_not_exists()
                .col(id_col(PushSettings::UserId).primary_key())
                .col(
                    ColumnDef::new(PushSettings::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(
                    ColumnDef::new(PushSettings::Preview)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(ColumnDef::new(PushSettings::SmsPhone).string_len(32).null())
                .col(
                    ColumnDef::new(PushSettings::SmsFallback)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(PushSettings::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushMutes::Table)
                .if_not_exists()
                .col(id_col(PushMutes::UserId))
                .col(id_col(PushMutes::RoomId))
                // Muted until this time (ms since the epoch); null: until unmuted.
                .col(ColumnDef::new(PushMutes::Until).big_integer().null())
                .primary_key(
                    Index::create()
                        .col(PushMutes::UserId)
                        .col(PushMutes::RoomId),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            PushMutes::Table.into_iden(),
            PushSettings::Table.into_iden(),
            PushSubscriptions::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
