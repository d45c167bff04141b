//! Media uploads (`media`) and the rooms each one was sent to (`media_rooms`, for access checks).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ids are UUIDs without dashes; 36 leaves room for other schemes.
const ID_LEN: u32 = 36;

#[derive(DeriveIden)]
enum Media {
    Table,
    Id,
    OwnerId,
    Purpose,
    Status,
    Kind,
    Mime,
    Size,
    Name,
    ContentFile,
    ThumbFile,
    Width,
    Height,
    DurationMs,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MediaRooms {
    Table,
    MediaId,
    RoomId,
    SharedAt,
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
                .table(Media::Table)
                .if_not_exists()
                .col(id_col(Media::Id).primary_key())
                .col(id_col(Media::OwnerId))
                .col(ColumnDef::new(Media::Purpose).string_len(16).not_null())
                .col(ColumnDef::new(Media::Status).string_len(16).not_null())
                .col(ColumnDef::new(Media::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Media::Mime).string_len(127).not_null())
                .col(ColumnDef::new(Media::Size).big_integer().not_null())
                .col(ColumnDef::new(Media::Name).string_len(255).null())
                .col(ColumnDef::new(Media::ContentFile).string_len(64).null())
                .col(ColumnDef::new(Media::ThumbFile).string_len(64).null())
                .col(ColumnDef::new(Media::Width).integer().null())
                .col(ColumnDef::new(Media::Height).integer().null())
                .col(ColumnDef::new(Media::DurationMs).big_integer().null())
                .col(ColumnDef::new(Media::Error).string_len(500).null())
                .col(ColumnDef::new(Media::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Media::UpdatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_media_owner")
                .table(Media::Table)
                .col(Media::OwnerId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_media_status")
                .table(Media::Table)
                .col(Media::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MediaRooms::Table)
                .if_not_exists()
                .col(id_col(MediaRooms::MediaId))
                .col(id_col(MediaRooms::RoomId))
                .col(
                    ColumnDef::new(MediaRooms::SharedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(MediaRooms::MediaId)
                        .col(MediaRooms::RoomId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_media_rooms_room")
                .table(MediaRooms::Table)
                .col(MediaRooms::RoomId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(MediaRooms::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Media::Table).if_exists().to_owned())
            .await?;
        Ok(())
    }
}
