//! Verified phone numbers and e-mail addresses, and daily counters (issue 19, findings 3 and 8).
//!
//! - `verified_contacts`: a phone number (E.164) or e-mail address an account proved it holds by
//!   entering a code sent there. The primary key (`kind`, `value`) is what makes a verified value
//!   belong to one account only, on every backend and however requests race.
//! - `verification_codes`: the one pending code per account and kind, stored as a hash, with its
//!   expiry and the wrong attempts made so far.
//! - `daily_counters`: texts and mails sent per user and per number or address per UTC day, when
//!   there is no Redis to count in (several nodes always share the SQL database).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VerifiedContacts {
    Table,
    Kind,
    Value,
    UserId,
    VerifiedAt,
}

#[derive(DeriveIden)]
enum VerificationCodes {
    Table,
    UserId,
    Kind,
    Value,
    CodeHash,
    ExpiresAt,
    Attempts,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DailyCounters {
    Table,
    Name,
    Day,
    Count,
}

const ID_LEN: u32 = 36;
/// `phone` or `email`.
const KIND_LEN: u32 = 8;
/// The longest e-mail address (RFC 5321); E.164 numbers are far shorter.
const VALUE_LEN: u32 = 254;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(VerifiedContacts::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(VerifiedContacts::Kind)
                        .string_len(KIND_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerifiedContacts::Value)
                        .string_len(VALUE_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerifiedContacts::UserId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerifiedContacts::VerifiedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(VerifiedContacts::Kind)
                        .col(VerifiedContacts::Value),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_verified_contacts_user")
                .table(VerifiedContacts::Table)
                .col(VerifiedContacts::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VerificationCodes::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(VerificationCodes::UserId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerificationCodes::Kind)
                        .string_len(KIND_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerificationCodes::Value)
                        .string_len(VALUE_LEN)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerificationCodes::CodeHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerificationCodes::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(VerificationCodes::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(VerificationCodes::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(VerificationCodes::UserId)
                        .col(VerificationCodes::Kind),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DailyCounters::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(DailyCounters::Name)
                        .string_len(VALUE_LEN + 46)
                        .not_null(),
                )
                .col(ColumnDef::new(DailyCounters::Day).big_integer().not_null())
                .col(
                    ColumnDef::new(DailyCounters::Count)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .primary_key(
                    Index::create()
                        .col(DailyCounters::Name)
                        .col(DailyCounters::Day),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            VerifiedContacts::Table.into_iden(),
            VerificationCodes::Table.into_iden(),
            DailyCounters::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
