//! Administration: `users.is_admin`, `users.banned_at`, and `admin_claims`, whose primary key
//! lets exactly one registration claim "first user" (and with it the admin role) even when two
//! race. On a database that already has users, the earliest one becomes admin.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    IsAdmin,
    BannedAt,
}

#[derive(DeriveIden)]
enum AdminClaims {
    Table,
    Claim,
    UserId,
    ClaimedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let cols = [
            ColumnDef::new(Users::IsAdmin)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Users::BannedAt)
                .big_integer()
                .null()
                .to_owned(),
        ];
        for col in cols {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(AdminClaims::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(AdminClaims::Claim)
                        .string_len(32)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AdminClaims::UserId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AdminClaims::ClaimedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let first = db
            .query_one(Statement::from_string(
                backend,
                "SELECT id, created_at FROM users ORDER BY created_at, id LIMIT 1",
            ))
            .await?;
        if let Some(row) = first {
            let id: String = row.try_get("", "id")?;
            let at: i64 = row.try_get("", "created_at")?;
            db.execute(Statement::from_sql_and_values(
                backend,
                "UPDATE users SET is_admin = ? WHERE id = ?",
                [true.into(), id.clone().into()],
            ))
            .await?;
            db.execute(Statement::from_sql_and_values(
                backend,
                "INSERT INTO admin_claims (claim, user_id, claimed_at) VALUES ('first_user', ?, ?)",
                [id.into(), at.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AdminClaims::Table).to_owned())
            .await?;
        for col in [Users::IsAdmin, Users::BannedAt] {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
