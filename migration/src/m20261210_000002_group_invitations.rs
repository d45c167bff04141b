//! `group_invitations`: an owner or admin asked to add someone whose `privacy.group_adds` does
//! not let them add directly; the invitee accepts (and joins) or declines (issue 19, finding 6).
//! One pending invitation per group and invitee.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupInvitations {
    Table,
    Id,
    RoomId,
    InviteeId,
    InviterId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GroupInvitations::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(GroupInvitations::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(GroupInvitations::RoomId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(GroupInvitations::InviteeId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(GroupInvitations::InviterId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(GroupInvitations::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_group_invitations_room_invitee")
                .table(GroupInvitations::Table)
                .col(GroupInvitations::RoomId)
                .col(GroupInvitations::InviteeId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_group_invitations_invitee")
                .table(GroupInvitations::Table)
                .col(GroupInvitations::InviteeId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_group_invitations_inviter")
                .table(GroupInvitations::Table)
                .col(GroupInvitations::InviterId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(GroupInvitations::Table).to_owned())
            .await
    }
}
