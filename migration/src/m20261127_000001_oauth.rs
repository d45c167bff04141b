//! OAuth 2.0 sign-in: provider accounts linked to local accounts, and the pending sign-in
//! attempts (state, PKCE verifier, browser binding) that make each callback single-use.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ids are UUIDs without dashes; 36 leaves room for other schemes (as in the first migration).
const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum OauthLinks {
    Table,
    Provider,
    Subject,
    UserId,
    Name,
    Username,
    AvatarUrl,
    LinkedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    Provider,
    BrowserHash,
    PkceVerifier,
    RedirectUri,
    LinkUserId,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OauthLinks::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(OauthLinks::Provider)
                        .string_len(16)
                        .not_null(),
                )
                // The provider's user id; 191 characters keeps the key within MySQL's index limit
                // under utf8mb4.
                .col(
                    ColumnDef::new(OauthLinks::Subject)
                        .string_len(191)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OauthLinks::UserId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(ColumnDef::new(OauthLinks::Name).string_len(200).null())
                .col(ColumnDef::new(OauthLinks::Username).string_len(100).null())
                .col(ColumnDef::new(OauthLinks::AvatarUrl).text().null())
                .col(
                    ColumnDef::new(OauthLinks::LinkedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(OauthLinks::Provider)
                        .col(OauthLinks::Subject),
                )
                .to_owned(),
        )
        .await?;
        // One account per provider per user; also the index for "links of a user".
        m.create_index(
            Index::create()
                .name("idx_oauth_links_user_provider")
                .table(OauthLinks::Table)
                .col(OauthLinks::UserId)
                .col(OauthLinks::Provider)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OauthStates::Table)
                .if_not_exists()
                // SHA-256 (hex) of the `state` parameter; the value itself is only in the URL.
                .col(
                    ColumnDef::new(OauthStates::StateHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OauthStates::Provider)
                        .string_len(16)
                        .not_null(),
                )
                // SHA-256 (hex) of the random value in the browser's HttpOnly cookie.
                .col(
                    ColumnDef::new(OauthStates::BrowserHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OauthStates::PkceVerifier)
                        .string_len(128)
                        .null(),
                )
                .col(ColumnDef::new(OauthStates::RedirectUri).text().not_null())
                // Set when a signed-in user asked to link a provider account.
                .col(
                    ColumnDef::new(OauthStates::LinkUserId)
                        .string_len(ID_LEN)
                        .null(),
                )
                .col(
                    ColumnDef::new(OauthStates::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OauthStates::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_oauth_states_expires")
                .table(OauthStates::Table)
                .col(OauthStates::ExpiresAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            OauthStates::Table.into_iden(),
            OauthLinks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
