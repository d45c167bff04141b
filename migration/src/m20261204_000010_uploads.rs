//! `uploads`: resumable (tus 1.0) uploads in progress. The bytes received so far are the file
//! `media.dir/<id>/upload`; its length is the upload's offset, so nothing here changes per chunk.
//! Once the last byte arrives the upload becomes the media item with the same id.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ids are UUIDs without dashes; 36 leaves room for other schemes.
const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    OwnerId,
    Purpose,
    Length,
    Name,
    Filetype,
    CreatedAt,
    ExpiresAt,
    CompletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Uploads::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Uploads::Id)
                        .string_len(ID_LEN)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Uploads::OwnerId)
                        .string_len(ID_LEN)
                        .not_null(),
                )
                .col(ColumnDef::new(Uploads::Purpose).string_len(16).not_null())
                .col(ColumnDef::new(Uploads::Length).big_integer().not_null())
                .col(ColumnDef::new(Uploads::Name).string_len(255).null())
                .col(ColumnDef::new(Uploads::Filetype).string_len(127).null())
                .col(ColumnDef::new(Uploads::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Uploads::ExpiresAt).big_integer().not_null())
                .col(ColumnDef::new(Uploads::CompletedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_uploads_owner")
                .table(Uploads::Table)
                .col(Uploads::OwnerId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_uploads_expires")
                .table(Uploads::Table)
                .col(Uploads::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Uploads::Table).if_exists().to_owned())
            .await
    }
}
