//! Verified phone numbers and e-mail addresses: pending codes (hashed, expiring, with an attempt
//! count) and the values accounts proved they hold. A verified value belongs to one account: the
//! primary key of `verified_contacts` refuses a second one, whatever the race.
//!
//! A value stays verified while the account still uses it (as its profile phone or e-mail, or
//! as its SMS-fallback number); once it uses it no more the claim is dropped
//! ([`Store::release_unused`]), so a number given up can be verified by its next holder.

use std::collections::HashSet;

use entities::{push_setting, user, verification_code, verified_contact};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, UserId};

/// What is verified: `verified_contacts.kind` and `verification_codes.kind` (mapped here, at the
/// store's edge, to the strings those columns always held), and the `{kind}` of
/// `/api/me/{kind}/verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactKind {
    /// A phone number (E.164).
    Phone,
    /// An e-mail address (lower-cased).
    Email,
}

impl ContactKind {
    /// The stored string, also the field naming the value in bodies and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Email => "email",
        }
    }

    /// The kind a stored string names; `None` for one the server never writes.
    pub fn parse(stored: &str) -> Option<ContactKind> {
        match stored {
            "phone" => Some(ContactKind::Phone),
            "email" => Some(ContactKind::Email),
            _ => None,
        }
    }
}

/// Why a value could not be marked verified.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another account verified it first.
    #[error("already verified by another account")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The values `user` verified, as (kind, value); a row of a kind the server does not know
    /// counts as nothing verified.
    pub async fn verified_of(
        &self,
        user: &UserId,
    ) -> Result<HashSet<(ContactKind, String)>, StoreError> {
        Ok(verified_contact::Entity::find()
            .filter(verified_contact::Column::UserId.eq(user.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|v| Some((ContactKind::parse(&v.kind)?, v.value)))
            .collect())
    }

    /// The account that verified `value`, if any.
    pub async fn verified_by(
        &self,
        kind: ContactKind,
        value: &str,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(
            verified_contact::Entity::find_by_id((kind.as_str().to_owned(), value.to_owned()))
                .one(&self.db)
                .await?
                .map(|v| UserId(v.user_id)),
        )
    }

    /// Which of `users` verified the phone number each is paired with.
    pub async fn verified_phones(
        &self,
        users: &[(UserId, String)],
    ) -> Result<HashSet<(UserId, String)>, StoreError> {
        if users.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<String> = users.iter().map(|(u, _)| u.0.clone()).collect();
        let found: HashSet<(UserId, String)> = verified_contact::Entity::find()
            .filter(verified_contact::Column::Kind.eq(ContactKind::Phone.as_str()))
            .filter(verified_contact::Column::UserId.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|v| (UserId(v.user_id), v.value))
            .collect();
        Ok(users
            .iter()
            .filter(|p| found.contains(p))
            .cloned()
            .collect())
    }

    /// Stores a new pending code for `user` and `kind` (replacing any earlier one).
    pub async fn save_code(
        &self,
        user: &UserId,
        kind: ContactKind,
        value: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        use verification_code::Column as C;
        let row = verification_code::ActiveModel {
            user_id: Set(user.0.clone()),
            kind: Set(kind.as_str().to_owned()),
            value: Set(value.to_owned()),
            code_hash: Set(code_hash.to_owned()),
            expires_at: Set(expires_at),
            attempts: Set(0),
            created_at: Set(now_ms()),
        };
        verification_code::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::UserId, C::Kind])
                    .update_columns([
                        C::Value,
                        C::CodeHash,
                        C::ExpiresAt,
                        C::Attempts,
                        C::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// `user`'s pending code of `kind`.
    pub async fn pending_code(
        &self,
        user: &UserId,
        kind: ContactKind,
    ) -> Result<Option<verification_code::Model>, StoreError> {
        Ok(
            verification_code::Entity::find_by_id((user.0.clone(), kind.as_str().to_owned()))
                .one(&self.db)
                .await?,
        )
    }

    /// Counts one wrong code against the pending one; returns the attempts made so far.
    pub async fn code_failed(&self, code: &verification_code::Model) -> Result<i32, StoreError> {
        use verification_code::Column as C;
        verification_code::Entity::update_many()
            .col_expr(
                C::Attempts,
                sea_orm::sea_query::Expr::col(C::Attempts).add(1),
            )
            .filter(C::UserId.eq(code.user_id.clone()))
            .filter(C::Kind.eq(code.kind.clone()))
            .filter(C::CodeHash.eq(code.code_hash.clone()))
            .exec(&self.db)
            .await?;
        // Read back by the row's own key (whatever its kind string), so the count cannot be lost.
        Ok(
            verification_code::Entity::find_by_id((code.user_id.clone(), code.kind.clone()))
                .one(&self.db)
                .await?
                .map(|c| c.attempts)
                .unwrap_or(i32::MAX),
        )
    }

    /// Drops `user`'s pending code of `kind`.
    pub async fn drop_code(&self, user: &UserId, kind: ContactKind) -> Result<(), StoreError> {
        verification_code::Entity::delete_by_id((user.0.clone(), kind.as_str().to_owned()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Marks `value` verified by `user` and drops the pending code; [`ClaimError::Taken`] when
    /// another account holds it. Verifying again what `user` already holds is fine.
    pub async fn claim(
        &self,
        user: &UserId,
        kind: ContactKind,
        value: &str,
    ) -> Result<(), ClaimError> {
        let kind = kind.as_str();
        let txn = self.db.begin().await.map_err(StoreError::from)?;
        let held = verified_contact::Entity::find_by_id((kind.to_owned(), value.to_owned()))
            .one(&txn)
            .await
            .map_err(StoreError::from)?;
        match held {
            Some(v) if v.user_id != user.0 => return Err(ClaimError::Taken),
            Some(_) => {}
            None => {
                let row = verified_contact::ActiveModel {
                    kind: Set(kind.to_owned()),
                    value: Set(value.to_owned()),
                    user_id: Set(user.0.clone()),
                    verified_at: Set(now_ms()),
                };
                verified_contact::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(|e| match StoreError::classify(e) {
                        // Another account's claim committed in between.
                        StoreError::Conflict(_) => ClaimError::Taken,
                        other => other.into(),
                    })?;
            }
        }
        verification_code::Entity::delete_by_id((user.0.clone(), kind.to_owned()))
            .exec(&txn)
            .await
            .map_err(StoreError::from)?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Drops `user`'s claims on values it no longer uses: a phone number that is neither its
    /// profile phone nor its SMS-fallback number, an address that is not its e-mail. Called after
    /// every change of those.
    pub async fn release_unused(&self, user: &UserId) -> Result<(), StoreError> {
        let mine = verified_contact::Entity::find()
            .filter(verified_contact::Column::UserId.eq(user.0.clone()))
            .all(&self.db)
            .await?;
        if mine.is_empty() {
            return Ok(());
        }
        let u = user::Entity::find_by_id(user.0.clone())
            .one(&self.db)
            .await?;
        let sms = push_setting::Entity::find_by_id(user.0.clone())
            .one(&self.db)
            .await?
            .and_then(|s| s.sms_phone);
        let (phone, email) = u.map(|u| (u.phone, u.email)).unwrap_or_default();
        for v in mine {
            // A claim of a kind the server does not know is released: it proves nothing.
            let used = match ContactKind::parse(&v.kind) {
                Some(ContactKind::Phone) => {
                    phone.as_deref() == Some(v.value.as_str())
                        || sms.as_deref() == Some(v.value.as_str())
                }
                Some(ContactKind::Email) => email.as_deref() == Some(v.value.as_str()),
                None => false,
            };
            if !used {
                verified_contact::Entity::delete_many()
                    .filter(verified_contact::Column::Kind.eq(v.kind))
                    .filter(verified_contact::Column::Value.eq(v.value))
                    .filter(verified_contact::Column::UserId.eq(user.0.clone()))
                    .exec(&self.db)
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::ContactKind;

    #[test]
    fn contact_kinds_keep_their_stored_and_path_strings() {
        for (kind, s) in [(ContactKind::Phone, "phone"), (ContactKind::Email, "email")] {
            assert_eq!(kind.as_str(), s);
            assert_eq!(ContactKind::parse(s), Some(kind));
            let from_path: ContactKind = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(from_path, kind);
        }
        assert_eq!(ContactKind::parse("Phone"), None);
        assert!(serde_json::from_str::<ContactKind>("\"sms\"").is_err());
    }
}
