//! `tokens.user_agent` and `tokens.last_used_at`: what signed in (the browser's or app's
//! `User-Agent`) and when the session was last used, so a person can tell their sessions apart
//! before signing one out (`GET /api/me/sessions`). Both null for tokens made before.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    UserAgent,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let cols = [
            ColumnDef::new(Tokens::UserAgent)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Tokens::LastUsedAt)
                .big_integer()
                .null()
                .to_owned(),
        ];
        for col in cols {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Tokens::UserAgent, Tokens::LastUsedAt] {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
