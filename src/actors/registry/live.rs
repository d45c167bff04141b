//! The one index of this node's live sessions, per user, held by the registry.
//!
//! Frames for users are delivered from it, and it decides a user's first and last session here:
//! the registry changes it and tells Presence in the same handler, so the decision is made by
//! one actor in message order (two sessions of one user opening or closing at once cannot both
//! be counted first, or neither last).

use std::collections::HashMap;

use crate::actors::outbox::SessionHandle;
use crate::ids::{SessionId, UserId};

/// See the module doc.
#[derive(Default)]
pub(super) struct LiveSessions {
    by_user: HashMap<UserId, HashMap<SessionId, SessionHandle>>,
}

impl LiveSessions {
    /// Indexes `handle`; answers how many sessions its user has here now (1: their first).
    pub(super) fn open(&mut self, handle: SessionHandle) -> usize {
        let sessions = self.by_user.entry(handle.user.clone()).or_default();
        sessions.insert(handle.id.clone(), handle);
        sessions.len()
    }

    /// Forgets `session`; answers how many sessions `user` has left here (0: that was their
    /// last), or `None` if it was not indexed (closed before it opened), which changes nothing.
    pub(super) fn close(&mut self, user: &UserId, session: &SessionId) -> Option<usize> {
        let sessions = self.by_user.get_mut(user)?;
        sessions.remove(session)?;
        let left = sessions.len();
        if left == 0 {
            self.by_user.remove(user);
        }
        Some(left)
    }

    /// Whether `user` has a session here.
    pub(super) fn has(&self, user: &UserId) -> bool {
        self.by_user.contains_key(user)
    }

    /// How many sessions `user` has here.
    pub(super) fn count(&self, user: &UserId) -> usize {
        self.by_user.get(user).map_or(0, HashMap::len)
    }

    /// One session of `user`, if it is open here.
    pub(super) fn get(&self, user: &UserId, session: &SessionId) -> Option<&SessionHandle> {
        self.by_user.get(user).and_then(|s| s.get(session))
    }

    /// Every session here of these users.
    pub(super) fn of<'a>(
        &'a self,
        users: impl Iterator<Item = &'a UserId> + 'a,
    ) -> impl Iterator<Item = &'a SessionHandle> + 'a {
        users
            .filter_map(|u| self.by_user.get(u))
            .flat_map(HashMap::values)
    }

    /// Every session here.
    pub(super) fn all(&self) -> impl Iterator<Item = &SessionHandle> {
        self.by_user.values().flat_map(HashMap::values)
    }
}

#[cfg(test)]
mod tests {
    use actix::prelude::*;

    use super::*;
    use crate::actors::outbox::{outlet, CloseSession};

    struct Nobody;

    impl Actor for Nobody {
        type Context = Context<Self>;
    }

    impl Handler<CloseSession> for Nobody {
        type Result = ();

        fn handle(&mut self, _: CloseSession, _ctx: &mut Context<Self>) {}
    }

    fn handle(user: &str, session: &str, close: &Addr<Nobody>) -> SessionHandle {
        let (deliver, _inlet) = outlet(1);
        SessionHandle {
            id: SessionId::from(session),
            user: UserId::from(user),
            token_hash: String::new(),
            deliver,
            close: close.clone().recipient(),
        }
    }

    #[actix::test]
    async fn the_first_session_to_open_and_the_last_to_close_are_counted_once() {
        let close = Nobody.start();
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let mut live = LiveSessions::default();
        assert_eq!(live.open(handle("ann", "a1", &close)), 1, "ann's first");
        assert_eq!(live.open(handle("ann", "a2", &close)), 2);
        assert_eq!(live.open(handle("bob", "b1", &close)), 1, "bob's first");
        assert_eq!(live.count(&ann), 2);
        assert_eq!(live.of([ann.clone(), bob.clone()].iter()).count(), 3);
        assert_eq!(live.all().count(), 3);
        assert!(live.get(&ann, &SessionId::from("a2")).is_some());

        assert_eq!(live.close(&ann, &SessionId::from("a1")), Some(1));
        assert!(live.has(&ann));
        // A session closed twice, or never opened, is no change: not a second "last".
        assert_eq!(live.close(&ann, &SessionId::from("a1")), None);
        assert_eq!(live.close(&bob, &SessionId::from("b9")), None);
        assert_eq!(
            live.close(&ann, &SessionId::from("a2")),
            Some(0),
            "ann's last"
        );
        assert!(!live.has(&ann));
        assert_eq!(live.count(&ann), 0);
        assert_eq!(live.close(&ann, &SessionId::from("a2")), None);
        // Opening again after the last closed is a first again.
        assert_eq!(live.open(handle("ann", "a3", &close)), 1);
    }
}
