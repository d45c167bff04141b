//! `admin_bootstrap_codes`: the one-time codes that make the first admin (issue 19, finding 9).
//! While no account is an admin, each server minting a code at start stores its SHA-256 here;
//! redeeming any one of them makes the caller an admin and deletes them all. Accounts are no
//! longer made admin by being first; databases that have an admin keep it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminBootstrapCodes {
    Table,
    CodeHash,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AdminBootstrapCodes::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(AdminBootstrapCodes::CodeHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AdminBootstrapCodes::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AdminBootstrapCodes::Table).to_owned())
            .await
    }
}
