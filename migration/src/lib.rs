//! Dated schema migrations. The server applies pending ones at start (`Migrator::up`).
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_init;
mod m20261125_000002_people;
mod m20261126_000001_media;
mod m20261126_000002_push;
mod m20261127_000001_oauth;
mod m20261127_000002_admin;
mod m20261204_000001_unread_index;
mod m20261204_000002_reactions;
mod m20261204_000003_pins_stars;
mod m20261204_000010_uploads;
mod m20261205_000001_verification;
mod m20261210_000001_admin_bootstrap;
mod m20261210_000002_group_invitations;
mod m20261212_000001_token_devices;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_init::Migration),
            Box::new(m20261125_000002_people::Migration),
            Box::new(m20261126_000001_media::Migration),
            Box::new(m20261126_000002_push::Migration),
            Box::new(m20261127_000001_oauth::Migration),
            Box::new(m20261127_000002_admin::Migration),
            Box::new(m20261204_000001_unread_index::Migration),
            Box::new(m20261204_000002_reactions::Migration),
            Box::new(m20261204_000003_pins_stars::Migration),
            Box::new(m20261204_000010_uploads::Migration),
            Box::new(m20261205_000001_verification::Migration),
            Box::new(m20261210_000001_admin_bootstrap::Migration),
            Box::new(m20261210_000002_group_invitations::Migration),
            Box::new(m20261212_000001_token_devices::Migration),
        ]
    }
}
