// The web client's words in every language it speaks, and its dates and numbers (issue 22).
//
// Every string a person can see or hear (text, titles, aria-labels, placeholders, notices,
// errors of the client's own) is a key of MESSAGES, in each language. `t(key, params)` gives it
// in the language chosen at load: the one picked in the settings (kept in localStorage), else
// the first of the browser's languages (navigator.languages) that is here, else English. A
// message is a string with `{name}` placeholders, or an object of plural forms (the categories
// of Intl.PluralRules: `one`, `other`, ...) chosen by the parameter `count`. Numbers given as
// parameters are written the locale's way (Intl.NumberFormat). The page's own text carries
// `data-i18n` (its text), `data-i18n-title`, `data-i18n-aria-label` and `data-i18n-placeholder`
// attributes naming keys; translatePage fills them in. Dates and times go through the Intl
// formats below, in the chosen locale (the browser's regional variant of the language when it
// names one, e.g. de-AT). Adding a language: a block in MESSAGES with every key of `en` and its
// name in LANGUAGES; tests/browser/i18n.mjs fails while any key is missing or extra.

const LANG_KEY = 'chat.lang';

/** The languages there are, each named in itself. */
export const LANGUAGES = { en: 'English', de: 'Deutsch' };

export const MESSAGES = {
  // English: the reference; every other language has exactly its keys.
  en: {
    'admin.accounts': 'Accounts',
    'admin.actions': 'Actions',
    'admin.active': 'active',
    'admin.activeRooms': 'Active rooms',
    'admin.adminsOnly': 'Admins only: this account may not use the admin pages.',
    'admin.back': 'Back to chat',
    'admin.backlog': 'Write-buffer backlog',
    'admin.ban': 'Ban',
    'admin.banAsk': 'Ban {name} (@{username})? Their sessions close at once and they cannot sign in until unbanned.',
    'admin.banned': 'banned',
    'admin.become': 'Become admin',
    'admin.bootstrapAfter': 'of its data directory). Enter it to make this account the admin.',
    'admin.bootstrapBefore': 'Setting up a new server? While it has no admin, it prints a one-time code at start (in its log, and in the file',
    'admin.buffer': 'Write buffer',
    'admin.code': 'One-time setup code',
    'admin.connections': 'Connections',
    'admin.deadCount': { one: '{count} dead letter (newest first): entries the Syncer could not apply.', other: '{count} dead letters (newest first): entries the Syncer could not apply.' },
    'admin.deadLetters': 'Dead letters',
    'admin.dm': '(direct message)',
    'admin.entry': 'Buffer entry',
    'admin.error': 'Error',
    'admin.filterGroups': 'Filter groups by name',
    'admin.kind': 'Kind',
    'admin.kindDm': 'dm',
    'admin.kindGroup': 'group',
    'admin.live': 'Live',
    'admin.makeAdmin': 'Make admin',
    'admin.makeAdminAsk': 'Make {name} (@{username}) an admin? Admins see every account and conversation and can ban people.',
    'admin.mediaQueue': 'Media queue',
    'admin.member': '{name} (@{username}), {role}',
    'admin.membersOf': 'Members of {name}',
    'admin.membersOfDm': 'Members of the direct message',
    'admin.messageId': 'Message id (from a report, or the API)',
    'admin.messageRemoved': 'The message was removed for everyone.',
    'admin.messagesPerSecond': 'Messages / s',
    'admin.name': 'Name',
    'admin.noBuffer': 'No Redis write buffer: writes go straight to the database, and nothing is dead-lettered.',
    'admin.noDead': 'No dead letters: every buffered write reached the database or is on its way.',
    'admin.noSuchMessage': 'No message has this id.',
    'admin.notUpdated': 'not updated: {error}',
    'admin.pushFailed': 'Pushes failed',
    'admin.pushSent': 'Pushes sent',
    'admin.removeAdmin': 'Remove admin',
    'admin.removeAdminAsk': 'Take the admin role from {name} (@{username})?',
    'admin.removeDm': 'Remove the direct message',
    'admin.removeDmAsk': { one: 'Remove the direct message for all {count} member? It leaves their conversation lists and nobody can read it any more.', other: 'Remove the direct message for all {count} members? It leaves their conversation lists and nobody can read it any more.' },
    'admin.removeGroup': 'Remove the group {name}',
    'admin.removeGroupAsk': { one: 'Remove the group {name} for all {count} member? It leaves their conversation lists and nobody can read it any more.', other: 'Remove the group {name} for all {count} members? It leaves their conversation lists and nobody can read it any more.' },
    'admin.removeMessage': 'Remove message',
    'admin.removeMessageAsk': 'Remove this message for everyone in its conversation? Its attachments go with it.',
    'admin.removeMessageTitle': 'Remove a message',
    'admin.removeRoom': 'Remove conversation',
    'admin.revoke': 'Revoke sessions',
    'admin.revokeAsk': 'Sign {name} (@{username}) out everywhere?',
    'admin.role': 'Role',
    'admin.roleUser': 'user',
    'admin.searchUsers': 'Search users by name',
    'admin.signInFirst': 'Sign in to the chat first, with an admin account.',
    'admin.state': 'State',
    'admin.syncLag': 'Sync lag (ms)',
    'admin.title': 'Chat admin',
    'admin.unban': 'Unban',
    'admin.unreachable': 'The server could not be reached.',
    'admin.updated': 'updated {time}',
    'admin.user': 'User',
    'admin.userMe': '{name} (@{username}) — you',
    'admin.userName': '{name} (@{username})',
    'admin.users': 'Users',
    'admin.when': 'When',

    'api.unreachable': 'cannot reach the server',
    'api.uploadFailed': 'upload failed',

    'app.title': 'Chat',

    'auth.banned': 'This account is banned.',
    'auth.createAccount': 'Create an account',
    'auth.createAccountSubmit': 'Create account',
    'auth.displayName': 'Display name',
    'auth.haveAccount': 'I have an account',
    'auth.logIn': 'Log in',
    'auth.loggedOut': 'Logged out.',
    'auth.oauthIgnored': 'A sign-in link this page did not start was ignored.',
    'auth.oauthLinked': 'Linked your {provider} account.',
    'auth.password': 'Password',
    'auth.signInWith': 'Sign in with {provider}',
    'auth.signedOut': 'You were signed out ({reason}).',
    'auth.taken': 'That username is taken.',
    'auth.unreachable': 'Cannot reach the server: {error}',
    'auth.username': 'Username',
    'auth.wrong': 'Wrong username or password.',

    'capture.camera': 'Camera',
    'capture.noDevices': 'This browser cannot use the camera or microphone here (it needs https).',
    'capture.record': 'Record',
    'capture.recording': 'Recording…',
    'capture.shoot': 'Take photo',
    'capture.stop': 'Stop and send',
    'capture.unavailable': 'Camera or microphone not available: {error}',
    'capture.video': 'Video',
    'capture.voice': 'Voice note',

    'chat.back': 'Back to conversations',
    'chat.dropHint': 'Drop files to send them',
    'chat.empty': 'Pick a conversation, or start one with the + button',
    'chat.gone': 'That message is no longer in the conversation.',
    'chat.historyError': 'history: {error}',
    'chat.jump': 'Jump to the newest message',
    'chat.loadingOlder': 'Loading older messages…',
    'chat.members': { one: '{count} member', other: '{count} members' },
    'chat.messages': 'Messages',
    'chat.newMessages': 'New messages',
    'chat.showMembers': 'Show the members',
    'chat.showProfile': 'Show the profile',
    'chat.start': 'This is the start of the conversation',

    'common.add': 'Add',
    'common.cancel': 'Cancel',
    'common.close': 'Close',
    'common.loading': 'Loading…',
    'common.notConnected': 'Not connected.',
    'common.ok': 'OK',
    'common.remove': 'Remove',
    'common.save': 'Save',
    'common.uploading': 'Uploading…',
    'common.you': 'You',

    'composer.attach': 'Attach',
    'composer.attachFiles': 'Attach files',
    'composer.emoji': 'Emoji',
    'composer.mention': 'Mention someone',
    'composer.message': 'Message',
    'composer.photo': 'Take a photo',
    'composer.send': 'Send',
    'composer.sendFile': 'Send a file',
    'composer.video': 'Record a video',
    'composer.voice': 'Record a voice note',

    'conn.connecting': 'connecting',
    'conn.disconnected': 'disconnected',
    'conn.label': 'Connection',
    'conn.notConnected': 'not connected',
    'conn.offline': 'offline',
    'conn.online': 'online',
    'conn.sessionEnded': 'your session ended',
    'conn.signedOut': 'signed out',
    'conn.state': 'Connection: {state}',

    'contacts.addAll': 'Add all as contacts',
    'contacts.added': { one: 'Added {count} contact.', other: 'Added {count} contacts.' },
    'contacts.addedOne': '{name} added to your contacts.',
    'contacts.contact': 'Contact',
    'contacts.empty': 'No contacts yet. Add people from their profile, or find them from your address book below.',
    'contacts.file': 'Address book file',
    'contacts.findNotice': 'Pick a vCard file (.vcf) or a text or CSV file with phone numbers or e-mail addresses. Only people who verified that number or address are found.',
    'contacts.findTitle': 'Find people from your address book',
    'contacts.found': { one: 'Found {count} person among {total} numbers and addresses.', other: 'Found {count} people among {total} numbers and addresses.' },
    'contacts.foundList': 'Found in your address book',
    'contacts.lookingUp': { one: 'Looking up {count} number or address…', other: 'Looking up {count} numbers and addresses…' },
    'contacts.nicknameCleared': 'Nickname for {name} cleared.',
    'contacts.nicknameFor': 'Nickname for {name}',
    'contacts.nicknameSaved': 'Saved: you call {name} “{nickname}”.',
    'contacts.nobodyFound': { one: 'Nobody found among {count} number or address.', other: 'Nobody found among {count} numbers and addresses.' },
    'contacts.noneInFile': 'No phone numbers or e-mail addresses found in {file}.',
    'contacts.rateLimited': 'Too many address-book lookups for now; try again in a minute.',
    'contacts.removeAsk': 'Remove {name} from your contacts? Your nickname for them goes too; your chat stays.',
    'contacts.removed': '{name} is no longer a contact.',
    'contacts.title': 'Contacts',
    'contacts.tooBig': '{file} is too big (at most {max} MB).',
    'contacts.tooMany': '{file} has {count} numbers and addresses; at most {max} can be looked up at once. Split it into smaller files.',
    'contacts.unreadable': '{file} could not be read: {error}',

    'delete.done': 'Your account was deleted.',
    'delete.enterPassword': 'Enter your password to confirm.',
    'delete.explain': 'This deletes your profile, contacts and settings and takes you out of your groups. What you wrote stays, from “Deleted user”. It cannot be undone.',
    'delete.password': 'Your password, to confirm',
    'delete.submit': 'Delete my account',
    'delete.wrongPassword': 'That is not your password; the account was not deleted.',
    'delete.enterUsername': 'Type your username to confirm.',
    'delete.username': 'Your username, to confirm',
    'delete.wrongUsername': 'That is not your username; the account was not deleted.',

    'details.code': 'Code',
    'details.codeEmail': 'Code sent to the e-mail',
    'details.codePhone': 'Code sent to the phone',
    'details.codeSms': 'Code sent to the number for texts about unread messages',
    'details.confirm': 'Confirm',
    'details.email': 'E-mail',
    'details.notVerified': 'Not verified',
    'details.notice': 'Only verified numbers get texts, and only verified ones let people who have them find you.',
    'details.phone': 'Phone',
    'details.sendCode': 'Send code',
    'details.sms': 'Number for texts about unread messages',
    'details.smsFallback': 'Text me one-to-one messages still unread after a while',
    'details.title': 'Phone and e-mail',
    'details.verified': 'Verified',

    'forward.done': { one: 'Forwarded to {count} conversation', other: 'Forwarded to {count} conversations' },
    'forward.go': 'Forward',
    'forward.list': 'Conversations to forward to',
    'forward.someFailed': ', {count} failed',
    'forward.title': 'Forward',

    'group.addMembers': 'Add members',
    'group.added': '{name} was added.',
    'group.cannotAdd': '{name} cannot be added to this group by you.',
    'group.changePhoto': 'Change group photo',
    'group.invited': '{name} was invited: they join once they accept.',
    'group.invitedMark': 'Invited',
    'group.leave': 'Leave group',
    'group.leaveAsk': 'Leave “{group}”?',
    'group.leaveOk': 'Leave',
    'group.meName': '{name} (you)',
    'group.members': 'Members',
    'group.nameNeeded': 'Give the group a name.',
    'group.nowAdmin': '{name} is now an admin.',
    'group.nowMember': '{name} is now a member.',
    'group.nowOwner': '{name} is now an owner.',
    'group.photoChanged': 'Group photo changed.',
    'group.pictureFailed': 'the picture could not be processed',
    'group.removeAsk': 'Remove {name} from “{group}”?',
    'group.removed': '{name} was removed.',
    'group.rename': 'Rename',
    'group.renamed': 'Renamed to “{name}”.',
    'group.roleOf': 'Role of {name}',
    'group.youAdmin': 'you are an admin',
    'group.youOwner': 'you are an owner',

    'invitations.accept': 'Accept',
    'invitations.decline': 'Decline',
    'invitations.joined': 'You joined “{group}”.',
    'invitations.joinedTheGroup': 'You joined the group.',
    'invitations.label': 'Invitations',
    'invitations.to': '{name} (@{username}) invites you to “{group}”',
    'invitations.toAGroup': '{name} (@{username}) invites you to a group',

    'list.admin': 'Admin',
    'list.adminPages': 'Admin pages',
    'list.conversations': 'Conversations',
    'list.muted': 'Muted',
    'list.profileAndSettings': 'Profile and settings',
    'list.unread': '{count} unread',
    'list.unreadMentions': { one: '{count} unread mention of you', other: '{count} unread mentions of you' },

    'media.attachment': 'attachment',
    'media.audio': 'audio',
    'media.download': 'Download {name}',
    'media.failed': 'failed',
    'media.file': 'file',
    'media.image': 'image',
    'media.play': 'Play {name}',
    'media.playVideo': 'Play the video',
    'media.processing': 'processing',
    'media.processingFailed': 'processing failed',
    'media.show': 'Show {name}',
    'media.showPicture': 'Show the picture',
    'media.status': '{name}: {status}',
    'media.video': 'Video',

    'msg.delete': 'Delete',
    'msg.deleteAsk': 'Delete this message for everyone?',
    'msg.deleted': 'Message deleted',
    'msg.edit': 'Edit',
    'msg.edited': 'edited',
    'msg.editing': 'Editing message',
    'msg.forward': 'Forward',
    'msg.forwarded': 'Forwarded',
    'msg.fromText': '{name}: {text}',
    'msg.originalDeleted': 'Original message deleted',
    'msg.pin': 'Pin',
    'msg.pinned': 'Pinned',
    'msg.profileOf': '{name}\'s profile',
    'msg.reply': 'Reply',
    'msg.replyEarlier': 'Reply to an earlier message',
    'msg.replyingTo': 'Replying to {name}: {text}',
    'msg.replyingToSelf': 'Replying to yourself: {text}',
    'msg.showOriginal': 'Show the original message',
    'msg.star': 'Star',
    'msg.starred': 'Starred',
    'msg.unpin': 'Unpin',
    'msg.unstar': 'Unstar',

    'mute.button': 'Mute notifications',
    'mute.buttonMuted': 'Muted. Change',
    'mute.buttonUntil': 'Muted until {time}. Change',
    'mute.explain': 'Mute: no notifications and no sound.',
    'mute.forever': 'Until I unmute it',
    'mute.hours': { one: 'For {count} hour', other: 'For {count} hours' },
    'mute.title': 'Notifications for {name}',
    'mute.unmute': 'Unmute',
    'mute.until': 'Muted until {time}.',
    'mute.untilUnmuted': 'Muted until you unmute it.',
    'mute.week': 'For a week',

    'newChat.broadcast': 'Broadcast',
    'newChat.create': 'Create',
    'newChat.createGroup': 'Create group',
    'newChat.direct': 'Direct',
    'newChat.failed': 'Failed: {errors}',
    'newChat.findPeople': 'Find people',
    'newChat.group': 'Group',
    'newChat.groupName': 'Group name',
    'newChat.kind': 'Kind of conversation',
    'newChat.list': 'Broadcast list',
    'newChat.listName': 'Name of the list',
    'newChat.listOption': '{name} ({count})',
    'newChat.message': 'Message',
    'newChat.pickBelow': '(pick people below)',
    'newChat.pickPeople': 'Pick people or a list.',
    'newChat.saveList': 'Save as list',
    'newChat.sendAll': 'Send to all',
    'newChat.sending': 'Sending…',
    'newChat.sentTo': 'Sent to {count} of {total}.',
    'newChat.title': 'New conversation',
    'newChat.writeFirst': 'Write a message first.',

    'oauth.switch': 'Switch to @{now}',
    'oauth.switchAsk': 'This browser is signed in as @{was}. The sign-in that just finished is for @{now}. Switch to @{now}?',

    'password.again': 'New password again',
    'password.changed': 'Password changed. Every other session was signed out.',
    'password.current': 'Current password',
    'password.enterCurrent': 'Enter your current password.',
    'password.enterNew': 'Enter a new password.',
    'password.mismatch': 'The new passwords do not match.',
    'password.new': 'New password',
    'password.notice': 'Changing it signs you out everywhere else.',
    'password.rule': 'The new password must be {rule}.',
    'password.tooMany': 'Too many attempts. Wait a minute and try again.',
    'password.wrong': 'The current password is wrong.',

    'people.add': 'Add {name}',
    'people.chat': 'Chat',
    'people.found': 'People found',
    'people.message': 'Message',
    'people.placeholder': 'username or name',
    'people.remove': 'Remove {name}',

    'pins.show': 'Show the pinned message',

    'presence.lastSeen': 'last seen {when}',
    'presence.lastSeenDay': 'last seen {day} at {time}',
    'presence.offline': 'offline',
    'presence.online': 'online',

    'privacy.blocked': 'Blocked people',
    'privacy.blockedNone': 'You have not blocked anyone.',
    'privacy.blockedNotice': 'Blocked people cannot message you or see when you are online.',
    'privacy.delete': 'Delete account',
    'privacy.password': 'Change password',
    'privacy.sessions': 'Active sessions',
    'privacy.title': 'Privacy and security',
    'privacy.unblockName': 'Unblock {name}',

    'profile.block': 'Block',
    'profile.blockAsk': 'Block {name}? Neither of you can send messages in your chat while the block stands, and they no longer see when you are online.',
    'profile.blocked': '{name} is blocked.',
    'profile.deletedUser': 'Deleted user',
    'profile.nickname': 'Nickname (only you see it)',
    'profile.nicknameCleared': 'Nickname cleared.',
    'profile.nicknameSaved': 'Saved: you call them “{nickname}”.',
    'profile.saveNickname': 'Save nickname',
    'profile.unblock': 'Unblock',
    'profile.unblocked': '{name} is no longer blocked.',
    'profile.you': 'you',
    'profile.yourNickname': 'Your nickname: {nickname}',

    'push.blocked': 'Notifications are blocked for this site.',
    'push.on': 'Notifications are on for this device.',
    'push.unsupported': 'This browser has no Web Push.',

    'react.label': 'React',
    'react.with': 'React {emoji}',

    'role.admin': 'admin',
    'role.member': 'member',
    'role.owner': 'owner',

    'room.dm': 'Direct message',
    'room.group': 'Group',

    'search.conversation': 'Conversation',
    'search.error': 'search: {error}',
    'search.none': 'No messages found',
    'search.placeholder': 'Search messages',
    'search.results': 'Search results',

    'sessions.agent': '{browser} on {system}',
    'sessions.ended': 'That session had already ended.',
    'sessions.headless': 'Chrome (headless)',
    'sessions.lastUsed': 'last used {time}',
    'sessions.othersSignedOut': 'Every other session was signed out.',
    'sessions.signOut': 'Sign out',
    'sessions.signOutName': 'Sign out {name}',
    'sessions.signOutOthers': 'Sign out all other sessions',
    'sessions.signOutOthersAsk': 'Sign out every other session? Those devices will need the password again.',
    'sessions.signOutOthersOk': 'Sign out others',
    'sessions.signedIn': 'Signed in {time}',
    'sessions.signedOut': '{name} was signed out.',
    'sessions.thisDevice': 'This device',
    'sessions.unknown': 'Unknown device',

    'settings.about': 'About',
    'settings.changePhoto': 'Change photo',
    'settings.chat': 'Chat',
    'settings.enterSends': 'Enter sends',
    'settings.language': 'Language',
    'settings.languageAuto': 'The browser\'s language',
    'settings.link': 'Link {provider}',
    'settings.linked': 'Linked accounts',
    'settings.logOut': 'Log out',
    'settings.notifications': 'Notifications',
    'settings.preview': 'Show message text',
    'settings.profile': 'Profile',
    'settings.profilePhoto': 'Profile photo',
    'settings.push': 'Push notifications',
    'settings.pushEnable': 'Enable notifications on this device',
    'settings.receipts': 'Send read receipts',
    'settings.saveProfile': 'Save profile',
    'settings.sound': 'Sound',
    'settings.theme': 'Theme',
    'settings.typing': 'Show when I am typing',
    'settings.unlink': 'Unlink',

    'size.b': '{n} B',
    'size.gb': '{n} GB',
    'size.kb': '{n} KB',
    'size.mb': '{n} MB',
    'size.tb': '{n} TB',

    'starred.none': 'No starred messages yet',
    'starred.title': 'Starred messages',

    'theme.dark': 'Dark',
    'theme.forest': 'Forest',
    'theme.highContrast': 'High contrast',
    'theme.light': 'Light',
    'theme.ocean': 'Ocean',

    'ticks.delivered': 'Delivered',
    'ticks.read': 'Read',
    'ticks.sending': 'Sending',
    'ticks.sent': 'Sent',

    'typing.dm': 'typing…',
    'typing.names': { one: '{names} typing…', other: '{names} typing…' },

    'upload.cancel': 'Cancel upload',
    'upload.dropped': 'the connection dropped',
    'upload.failed': 'failed: {error}',
    'upload.reconnecting': 'reconnecting…',
    'upload.uploading': 'uploading',

    'viewer.picture': 'Picture',
  },
  // German (informal "du", as chat apps address people in German).
  de: {
    'admin.accounts': 'Konten',
    'admin.actions': 'Aktionen',
    'admin.active': 'aktiv',
    'admin.activeRooms': 'Aktive Räume',
    'admin.adminsOnly': 'Nur für Admins: Dieses Konto darf die Verwaltungsseiten nicht verwenden.',
    'admin.back': 'Zurück zum Chat',
    'admin.backlog': 'Rückstand im Schreibpuffer',
    'admin.ban': 'Sperren',
    'admin.banAsk': '{name} (@{username}) sperren? Die Sitzungen werden sofort geschlossen, und eine Anmeldung ist bis zur Entsperrung nicht möglich.',
    'admin.banned': 'gesperrt',
    'admin.become': 'Admin werden',
    'admin.bootstrapAfter': 'in seinem Datenverzeichnis). Gib ihn ein, um dieses Konto zum Admin zu machen.',
    'admin.bootstrapBefore': 'Richtest du einen neuen Server ein? Solange er keinen Admin hat, gibt er beim Start einen Einmal-Code aus (in seinem Log und in der Datei',
    'admin.buffer': 'Schreibpuffer',
    'admin.code': 'Einmal-Code für die Einrichtung',
    'admin.connections': 'Verbindungen',
    'admin.deadCount': { one: '{count} unzustellbarer Eintrag (neueste zuerst): Einträge, die der Syncer nicht anwenden konnte.', other: '{count} unzustellbare Einträge (neueste zuerst): Einträge, die der Syncer nicht anwenden konnte.' },
    'admin.deadLetters': 'Unzustellbare Einträge',
    'admin.dm': '(Direktnachricht)',
    'admin.entry': 'Puffereintrag',
    'admin.error': 'Fehler',
    'admin.filterGroups': 'Gruppen nach Namen filtern',
    'admin.kind': 'Art',
    'admin.kindDm': 'Direktnachricht',
    'admin.kindGroup': 'Gruppe',
    'admin.live': 'Live',
    'admin.makeAdmin': 'Zum Admin machen',
    'admin.makeAdminAsk': '{name} (@{username}) zum Admin machen? Admins sehen jedes Konto und jede Unterhaltung und können Personen sperren.',
    'admin.mediaQueue': 'Medien-Warteschlange',
    'admin.member': '{name} (@{username}), {role}',
    'admin.membersOf': 'Mitglieder von {name}',
    'admin.membersOfDm': 'Mitglieder der Direktnachricht',
    'admin.messageId': 'Nachrichten-ID (aus einer Meldung oder der API)',
    'admin.messageRemoved': 'Die Nachricht wurde für alle entfernt.',
    'admin.messagesPerSecond': 'Nachrichten / s',
    'admin.name': 'Name',
    'admin.noBuffer': 'Kein Redis-Schreibpuffer: Schreibvorgänge gehen direkt in die Datenbank, und nichts wird als unzustellbar abgelegt.',
    'admin.noDead': 'Keine unzustellbaren Einträge: Jeder gepufferte Schreibvorgang hat die Datenbank erreicht oder ist unterwegs.',
    'admin.noSuchMessage': 'Keine Nachricht hat diese ID.',
    'admin.notUpdated': 'nicht aktualisiert: {error}',
    'admin.pushFailed': 'Fehlgeschlagene Pushes',
    'admin.pushSent': 'Gesendete Pushes',
    'admin.removeAdmin': 'Admin-Rolle entziehen',
    'admin.removeAdminAsk': '{name} (@{username}) die Admin-Rolle entziehen?',
    'admin.removeDm': 'Die Direktnachricht entfernen',
    'admin.removeDmAsk': { one: 'Die Direktnachricht für {count} Mitglied entfernen? Sie verschwindet aus der Liste der Unterhaltungen, und niemand kann sie mehr lesen.', other: 'Die Direktnachricht für alle {count} Mitglieder entfernen? Sie verschwindet aus ihren Listen der Unterhaltungen, und niemand kann sie mehr lesen.' },
    'admin.removeGroup': 'Die Gruppe {name} entfernen',
    'admin.removeGroupAsk': { one: 'Die Gruppe {name} für {count} Mitglied entfernen? Sie verschwindet aus der Liste der Unterhaltungen, und niemand kann sie mehr lesen.', other: 'Die Gruppe {name} für alle {count} Mitglieder entfernen? Sie verschwindet aus ihren Listen der Unterhaltungen, und niemand kann sie mehr lesen.' },
    'admin.removeMessage': 'Nachricht entfernen',
    'admin.removeMessageAsk': 'Diese Nachricht für alle in ihrer Unterhaltung entfernen? Ihre Anhänge werden mit entfernt.',
    'admin.removeMessageTitle': 'Eine Nachricht entfernen',
    'admin.removeRoom': 'Unterhaltung entfernen',
    'admin.revoke': 'Sitzungen beenden',
    'admin.revokeAsk': '{name} (@{username}) überall abmelden?',
    'admin.role': 'Rolle',
    'admin.roleUser': 'Benutzer',
    'admin.searchUsers': 'Benutzer nach Namen suchen',
    'admin.signInFirst': 'Melde dich zuerst mit einem Admin-Konto im Chat an.',
    'admin.state': 'Status',
    'admin.syncLag': 'Sync-Verzögerung (ms)',
    'admin.title': 'Chat-Verwaltung',
    'admin.unban': 'Entsperren',
    'admin.unreachable': 'Der Server war nicht erreichbar.',
    'admin.updated': 'aktualisiert {time}',
    'admin.user': 'Benutzer',
    'admin.userMe': '{name} (@{username}) — du',
    'admin.userName': '{name} (@{username})',
    'admin.users': 'Benutzer',
    'admin.when': 'Wann',

    'api.unreachable': 'Server nicht erreichbar',
    'api.uploadFailed': 'Hochladen fehlgeschlagen',

    'app.title': 'Chat',

    'auth.banned': 'Dieses Konto ist gesperrt.',
    'auth.createAccount': 'Konto erstellen',
    'auth.createAccountSubmit': 'Konto anlegen',
    'auth.displayName': 'Anzeigename',
    'auth.haveAccount': 'Ich habe schon ein Konto',
    'auth.logIn': 'Anmelden',
    'auth.loggedOut': 'Abgemeldet.',
    'auth.oauthIgnored': 'Ein Anmeldelink, den diese Seite nicht gestartet hat, wurde ignoriert.',
    'auth.oauthLinked': 'Dein {provider}-Konto ist verknüpft.',
    'auth.password': 'Passwort',
    'auth.signInWith': 'Anmelden mit {provider}',
    'auth.signedOut': 'Du wurdest abgemeldet ({reason}).',
    'auth.taken': 'Dieser Benutzername ist schon vergeben.',
    'auth.unreachable': 'Server nicht erreichbar: {error}',
    'auth.username': 'Benutzername',
    'auth.wrong': 'Benutzername oder Passwort falsch.',

    'capture.camera': 'Kamera',
    'capture.noDevices': 'Dieser Browser kann Kamera und Mikrofon hier nicht verwenden (dafür ist https nötig).',
    'capture.record': 'Aufnehmen',
    'capture.recording': 'Aufnahme läuft…',
    'capture.shoot': 'Foto aufnehmen',
    'capture.stop': 'Beenden und senden',
    'capture.unavailable': 'Kamera oder Mikrofon nicht verfügbar: {error}',
    'capture.video': 'Video',
    'capture.voice': 'Sprachnachricht',

    'chat.back': 'Zurück zu den Unterhaltungen',
    'chat.dropHint': 'Dateien hier ablegen, um sie zu senden',
    'chat.empty': 'Wähle eine Unterhaltung oder beginne eine neue mit der Taste +',
    'chat.gone': 'Diese Nachricht ist nicht mehr in der Unterhaltung.',
    'chat.historyError': 'Verlauf: {error}',
    'chat.jump': 'Zur neuesten Nachricht springen',
    'chat.loadingOlder': 'Ältere Nachrichten werden geladen…',
    'chat.members': { one: '{count} Mitglied', other: '{count} Mitglieder' },
    'chat.messages': 'Nachrichten',
    'chat.newMessages': 'Neue Nachrichten',
    'chat.showMembers': 'Mitglieder anzeigen',
    'chat.showProfile': 'Profil anzeigen',
    'chat.start': 'Hier beginnt die Unterhaltung',

    'common.add': 'Hinzufügen',
    'common.cancel': 'Abbrechen',
    'common.close': 'Schließen',
    'common.loading': 'Wird geladen…',
    'common.notConnected': 'Nicht verbunden.',
    'common.ok': 'OK',
    'common.remove': 'Entfernen',
    'common.save': 'Speichern',
    'common.uploading': 'Wird hochgeladen…',
    'common.you': 'Du',

    'composer.attach': 'Anhängen',
    'composer.attachFiles': 'Dateien anhängen',
    'composer.emoji': 'Emoji',
    'composer.mention': 'Jemanden erwähnen',
    'composer.message': 'Nachricht',
    'composer.photo': 'Foto aufnehmen',
    'composer.send': 'Senden',
    'composer.sendFile': 'Datei senden',
    'composer.video': 'Video aufnehmen',
    'composer.voice': 'Sprachnachricht aufnehmen',

    'conn.connecting': 'verbindet',
    'conn.disconnected': 'Verbindung getrennt',
    'conn.label': 'Verbindung',
    'conn.notConnected': 'nicht verbunden',
    'conn.offline': 'offline',
    'conn.online': 'online',
    'conn.sessionEnded': 'deine Sitzung ist abgelaufen',
    'conn.signedOut': 'abgemeldet',
    'conn.state': 'Verbindung: {state}',

    'contacts.addAll': 'Alle als Kontakte hinzufügen',
    'contacts.added': { one: '{count} Kontakt hinzugefügt.', other: '{count} Kontakte hinzugefügt.' },
    'contacts.addedOne': '{name} wurde zu deinen Kontakten hinzugefügt.',
    'contacts.contact': 'Kontakt',
    'contacts.empty': 'Noch keine Kontakte. Füge Personen über ihr Profil hinzu oder finde sie unten über dein Adressbuch.',
    'contacts.file': 'Adressbuch-Datei',
    'contacts.findNotice': 'Wähle eine vCard-Datei (.vcf) oder eine Text- oder CSV-Datei mit Telefonnummern oder E-Mail-Adressen. Gefunden werden nur Personen, die diese Nummer oder Adresse bestätigt haben.',
    'contacts.findTitle': 'Personen aus deinem Adressbuch finden',
    'contacts.found': { one: '{count} Person unter {total} Nummern und Adressen gefunden.', other: '{count} Personen unter {total} Nummern und Adressen gefunden.' },
    'contacts.foundList': 'In deinem Adressbuch gefunden',
    'contacts.lookingUp': { one: '{count} Nummer oder Adresse wird gesucht…', other: '{count} Nummern und Adressen werden gesucht…' },
    'contacts.nicknameCleared': 'Spitzname für {name} entfernt.',
    'contacts.nicknameFor': 'Spitzname für {name}',
    'contacts.nicknameSaved': 'Gespeichert: Du nennst {name} „{nickname}“.',
    'contacts.nobodyFound': { one: 'Niemand unter {count} Nummer oder Adresse gefunden.', other: 'Niemand unter {count} Nummern und Adressen gefunden.' },
    'contacts.noneInFile': 'Keine Telefonnummern oder E-Mail-Adressen in {file} gefunden.',
    'contacts.rateLimited': 'Zu viele Adressbuch-Abfragen; versuche es in einer Minute wieder.',
    'contacts.removeAsk': '{name} aus deinen Kontakten entfernen? Dein Spitzname für diese Person wird auch gelöscht; euer Chat bleibt.',
    'contacts.removed': '{name} ist kein Kontakt mehr.',
    'contacts.title': 'Kontakte',
    'contacts.tooBig': '{file} ist zu groß (höchstens {max} MB).',
    'contacts.tooMany': '{file} enthält {count} Nummern und Adressen; höchstens {max} können auf einmal gesucht werden. Teile sie auf kleinere Dateien auf.',
    'contacts.unreadable': '{file} konnte nicht gelesen werden: {error}',

    'delete.done': 'Dein Konto wurde gelöscht.',
    'delete.enterPassword': 'Gib zur Bestätigung dein Passwort ein.',
    'delete.explain': 'Damit werden dein Profil, deine Kontakte und Einstellungen gelöscht und du verlässt deine Gruppen. Was du geschrieben hast, bleibt, als von „Gelöschter Benutzer“. Das kann nicht rückgängig gemacht werden.',
    'delete.password': 'Dein Passwort, zur Bestätigung',
    'delete.submit': 'Mein Konto löschen',
    'delete.wrongPassword': 'Das ist nicht dein Passwort; das Konto wurde nicht gelöscht.',
    'delete.enterUsername': 'Gib zur Bestätigung deinen Benutzernamen ein.',
    'delete.username': 'Dein Benutzername, zur Bestätigung',
    'delete.wrongUsername': 'Das ist nicht dein Benutzername; das Konto wurde nicht gelöscht.',

    'details.code': 'Code',
    'details.codeEmail': 'An die E-Mail-Adresse gesendeter Code',
    'details.codePhone': 'An das Telefon gesendeter Code',
    'details.codeSms': 'An die Nummer für SMS zu ungelesenen Nachrichten gesendeter Code',
    'details.confirm': 'Bestätigen',
    'details.email': 'E-Mail',
    'details.notVerified': 'Nicht bestätigt',
    'details.notice': 'Nur bestätigte Nummern bekommen SMS, und nur bestätigte Angaben lassen Personen, die sie haben, dich finden.',
    'details.phone': 'Telefon',
    'details.sendCode': 'Code senden',
    'details.sms': 'Nummer für SMS zu ungelesenen Nachrichten',
    'details.smsFallback': 'Schick mir eine SMS zu Einzelnachrichten, die eine Weile ungelesen bleiben',
    'details.title': 'Telefon und E-Mail',
    'details.verified': 'Bestätigt',

    'forward.done': { one: 'An {count} Unterhaltung weitergeleitet', other: 'An {count} Unterhaltungen weitergeleitet' },
    'forward.go': 'Weiterleiten',
    'forward.list': 'Unterhaltungen, an die weitergeleitet wird',
    'forward.someFailed': ', {count} fehlgeschlagen',
    'forward.title': 'Weiterleiten',

    'group.addMembers': 'Mitglieder hinzufügen',
    'group.added': '{name} wurde hinzugefügt.',
    'group.cannotAdd': 'Du kannst {name} nicht zu dieser Gruppe hinzufügen.',
    'group.changePhoto': 'Gruppenbild ändern',
    'group.invited': '{name} wurde eingeladen und tritt bei, sobald die Einladung angenommen ist.',
    'group.invitedMark': 'Eingeladen',
    'group.leave': 'Gruppe verlassen',
    'group.leaveAsk': '„{group}“ verlassen?',
    'group.leaveOk': 'Verlassen',
    'group.meName': '{name} (du)',
    'group.members': 'Mitglieder',
    'group.nameNeeded': 'Gib der Gruppe einen Namen.',
    'group.nowAdmin': '{name} ist jetzt Admin.',
    'group.nowMember': '{name} ist jetzt Mitglied.',
    'group.nowOwner': '{name} ist jetzt Inhaber.',
    'group.photoChanged': 'Gruppenbild geändert.',
    'group.pictureFailed': 'das Bild konnte nicht verarbeitet werden',
    'group.removeAsk': '{name} aus „{group}“ entfernen?',
    'group.removed': '{name} wurde entfernt.',
    'group.rename': 'Umbenennen',
    'group.renamed': 'Umbenannt in „{name}“.',
    'group.roleOf': 'Rolle von {name}',
    'group.youAdmin': 'du bist Admin',
    'group.youOwner': 'du bist Inhaber',

    'invitations.accept': 'Annehmen',
    'invitations.decline': 'Ablehnen',
    'invitations.joined': 'Du bist „{group}“ beigetreten.',
    'invitations.joinedTheGroup': 'Du bist der Gruppe beigetreten.',
    'invitations.label': 'Einladungen',
    'invitations.to': '{name} (@{username}) lädt dich in „{group}“ ein',
    'invitations.toAGroup': '{name} (@{username}) lädt dich in eine Gruppe ein',

    'list.admin': 'Admin',
    'list.adminPages': 'Verwaltungsseiten',
    'list.conversations': 'Unterhaltungen',
    'list.muted': 'Stummgeschaltet',
    'list.profileAndSettings': 'Profil und Einstellungen',
    'list.unread': '{count} ungelesen',
    'list.unreadMentions': { one: '{count} ungelesene Erwähnung von dir', other: '{count} ungelesene Erwähnungen von dir' },

    'media.attachment': 'Anhang',
    'media.audio': 'Audio',
    'media.download': '{name} herunterladen',
    'media.failed': 'fehlgeschlagen',
    'media.file': 'Datei',
    'media.image': 'Bild',
    'media.play': '{name} abspielen',
    'media.playVideo': 'Video abspielen',
    'media.processing': 'wird verarbeitet',
    'media.processingFailed': 'Verarbeitung fehlgeschlagen',
    'media.show': '{name} anzeigen',
    'media.showPicture': 'Bild anzeigen',
    'media.status': '{name}: {status}',
    'media.video': 'Video',

    'msg.delete': 'Löschen',
    'msg.deleteAsk': 'Diese Nachricht für alle löschen?',
    'msg.deleted': 'Nachricht gelöscht',
    'msg.edit': 'Bearbeiten',
    'msg.edited': 'bearbeitet',
    'msg.editing': 'Nachricht bearbeiten',
    'msg.forward': 'Weiterleiten',
    'msg.forwarded': 'Weitergeleitet',
    'msg.fromText': '{name}: {text}',
    'msg.originalDeleted': 'Ursprüngliche Nachricht gelöscht',
    'msg.pin': 'Anheften',
    'msg.pinned': 'Angeheftet',
    'msg.profileOf': 'Profil von {name}',
    'msg.reply': 'Antworten',
    'msg.replyEarlier': 'Antwort auf eine frühere Nachricht',
    'msg.replyingTo': 'Antwort an {name}: {text}',
    'msg.replyingToSelf': 'Antwort an dich selbst: {text}',
    'msg.showOriginal': 'Ursprüngliche Nachricht anzeigen',
    'msg.star': 'Markieren',
    'msg.starred': 'Markiert',
    'msg.unpin': 'Loslösen',
    'msg.unstar': 'Markierung entfernen',

    'mute.button': 'Benachrichtigungen stummschalten',
    'mute.buttonMuted': 'Stummgeschaltet. Ändern',
    'mute.buttonUntil': 'Stummgeschaltet bis {time}. Ändern',
    'mute.explain': 'Stummschalten: keine Benachrichtigungen und kein Ton.',
    'mute.forever': 'Bis ich es wieder einschalte',
    'mute.hours': { one: 'Für {count} Stunde', other: 'Für {count} Stunden' },
    'mute.title': 'Benachrichtigungen für {name}',
    'mute.unmute': 'Stummschaltung aufheben',
    'mute.until': 'Stummgeschaltet bis {time}.',
    'mute.untilUnmuted': 'Stummgeschaltet, bis du es wieder einschaltest.',
    'mute.week': 'Für eine Woche',

    'newChat.broadcast': 'Rundschreiben',
    'newChat.create': 'Erstellen',
    'newChat.createGroup': 'Gruppe erstellen',
    'newChat.direct': 'Direkt',
    'newChat.failed': 'Fehlgeschlagen: {errors}',
    'newChat.findPeople': 'Personen finden',
    'newChat.group': 'Gruppe',
    'newChat.groupName': 'Gruppenname',
    'newChat.kind': 'Art der Unterhaltung',
    'newChat.list': 'Verteilerliste',
    'newChat.listName': 'Name der Liste',
    'newChat.listOption': '{name} ({count})',
    'newChat.message': 'Nachricht',
    'newChat.pickBelow': '(Personen unten auswählen)',
    'newChat.pickPeople': 'Wähle Personen oder eine Liste.',
    'newChat.saveList': 'Als Liste speichern',
    'newChat.sendAll': 'An alle senden',
    'newChat.sending': 'Wird gesendet…',
    'newChat.sentTo': 'An {count} von {total} gesendet.',
    'newChat.title': 'Neue Unterhaltung',
    'newChat.writeFirst': 'Schreib zuerst eine Nachricht.',

    'oauth.switch': 'Zu @{now} wechseln',
    'oauth.switchAsk': 'Dieser Browser ist als @{was} angemeldet. Die gerade abgeschlossene Anmeldung gilt für @{now}. Zu @{now} wechseln?',

    'password.again': 'Neues Passwort wiederholen',
    'password.changed': 'Passwort geändert. Alle anderen Sitzungen wurden abgemeldet.',
    'password.current': 'Aktuelles Passwort',
    'password.enterCurrent': 'Gib dein aktuelles Passwort ein.',
    'password.enterNew': 'Gib ein neues Passwort ein.',
    'password.mismatch': 'Die neuen Passwörter stimmen nicht überein.',
    'password.new': 'Neues Passwort',
    'password.notice': 'Wenn du es änderst, wirst du überall sonst abgemeldet.',
    'password.rule': 'Das neue Passwort muss folgende Regel erfüllen: {rule}.',
    'password.tooMany': 'Zu viele Versuche. Warte eine Minute und versuche es dann erneut.',
    'password.wrong': 'Das aktuelle Passwort ist falsch.',

    'people.add': '{name} hinzufügen',
    'people.chat': 'Chatten',
    'people.found': 'Gefundene Personen',
    'people.message': 'Nachricht schreiben',
    'people.placeholder': 'Benutzername oder Name',
    'people.remove': '{name} entfernen',

    'pins.show': 'Angeheftete Nachricht anzeigen',

    'presence.lastSeen': 'zuletzt online {when}',
    'presence.lastSeenDay': 'zuletzt online {day} um {time}',
    'presence.offline': 'offline',
    'presence.online': 'online',

    'privacy.blocked': 'Blockierte Personen',
    'privacy.blockedNone': 'Du hast niemanden blockiert.',
    'privacy.blockedNotice': 'Blockierte Personen können dir keine Nachrichten schicken und nicht sehen, wann du online bist.',
    'privacy.delete': 'Konto löschen',
    'privacy.password': 'Passwort ändern',
    'privacy.sessions': 'Aktive Sitzungen',
    'privacy.title': 'Datenschutz und Sicherheit',
    'privacy.unblockName': '{name} freigeben',

    'profile.block': 'Blockieren',
    'profile.blockAsk': '{name} blockieren? Solange die Blockierung besteht, kann keiner von euch in eurem Chat Nachrichten senden, und die Person sieht nicht mehr, wann du online bist.',
    'profile.blocked': '{name} ist blockiert.',
    'profile.deletedUser': 'Gelöschter Benutzer',
    'profile.nickname': 'Spitzname (nur du siehst ihn)',
    'profile.nicknameCleared': 'Spitzname entfernt.',
    'profile.nicknameSaved': 'Gespeichert: Du nennst die Person „{nickname}“.',
    'profile.saveNickname': 'Spitznamen speichern',
    'profile.unblock': 'Freigeben',
    'profile.unblocked': '{name} ist nicht mehr blockiert.',
    'profile.you': 'du',
    'profile.yourNickname': 'Dein Spitzname: {nickname}',

    'push.blocked': 'Benachrichtigungen sind für diese Seite blockiert.',
    'push.on': 'Benachrichtigungen sind auf diesem Gerät eingeschaltet.',
    'push.unsupported': 'Dieser Browser unterstützt kein Web Push.',

    'react.label': 'Reagieren',
    'react.with': 'Mit {emoji} reagieren',

    'role.admin': 'Admin',
    'role.member': 'Mitglied',
    'role.owner': 'Inhaber',

    'room.dm': 'Direktnachricht',
    'room.group': 'Gruppe',

    'search.conversation': 'Unterhaltung',
    'search.error': 'Suche: {error}',
    'search.none': 'Keine Nachrichten gefunden',
    'search.placeholder': 'Nachrichten durchsuchen',
    'search.results': 'Suchergebnisse',

    'sessions.agent': '{browser} unter {system}',
    'sessions.ended': 'Diese Sitzung war bereits beendet.',
    'sessions.headless': 'Chrome (ohne Oberfläche)',
    'sessions.lastUsed': 'zuletzt verwendet {time}',
    'sessions.othersSignedOut': 'Alle anderen Sitzungen wurden abgemeldet.',
    'sessions.signOut': 'Abmelden',
    'sessions.signOutName': '{name} abmelden',
    'sessions.signOutOthers': 'Alle anderen Sitzungen abmelden',
    'sessions.signOutOthersAsk': 'Alle anderen Sitzungen abmelden? Diese Geräte brauchen dann wieder das Passwort.',
    'sessions.signOutOthersOk': 'Andere abmelden',
    'sessions.signedIn': 'Angemeldet {time}',
    'sessions.signedOut': '{name} wurde abgemeldet.',
    'sessions.thisDevice': 'Dieses Gerät',
    'sessions.unknown': 'Unbekanntes Gerät',

    'settings.about': 'Info',
    'settings.changePhoto': 'Foto ändern',
    'settings.chat': 'Chat',
    'settings.enterSends': 'Eingabetaste sendet',
    'settings.language': 'Sprache',
    'settings.languageAuto': 'Sprache des Browsers',
    'settings.link': 'Mit {provider} verknüpfen',
    'settings.linked': 'Verknüpfte Konten',
    'settings.logOut': 'Abmelden',
    'settings.notifications': 'Benachrichtigungen',
    'settings.preview': 'Nachrichtentext anzeigen',
    'settings.profile': 'Profil',
    'settings.profilePhoto': 'Profilbild',
    'settings.push': 'Push-Benachrichtigungen',
    'settings.pushEnable': 'Benachrichtigungen auf diesem Gerät einschalten',
    'settings.receipts': 'Lesebestätigungen senden',
    'settings.saveProfile': 'Profil speichern',
    'settings.sound': 'Ton',
    'settings.theme': 'Design',
    'settings.typing': 'Anzeigen, wenn ich tippe',
    'settings.unlink': 'Verknüpfung lösen',

    'size.b': '{n} B',
    'size.gb': '{n} GB',
    'size.kb': '{n} KB',
    'size.mb': '{n} MB',
    'size.tb': '{n} TB',

    'starred.none': 'Noch keine markierten Nachrichten',
    'starred.title': 'Markierte Nachrichten',

    'theme.dark': 'Dunkel',
    'theme.forest': 'Wald',
    'theme.highContrast': 'Hoher Kontrast',
    'theme.light': 'Hell',
    'theme.ocean': 'Ozean',

    'ticks.delivered': 'Zugestellt',
    'ticks.read': 'Gelesen',
    'ticks.sending': 'Wird gesendet',
    'ticks.sent': 'Gesendet',

    'typing.dm': 'tippt…',
    'typing.names': { one: '{names} tippt…', other: '{names} tippen…' },

    'upload.cancel': 'Hochladen abbrechen',
    'upload.dropped': 'die Verbindung ist abgebrochen',
    'upload.failed': 'fehlgeschlagen: {error}',
    'upload.reconnecting': 'verbindet neu…',
    'upload.uploading': 'wird hochgeladen',

    'viewer.picture': 'Bild',
  },
};

/** The language (a key of MESSAGES) and the locale (a BCP 47 tag for Intl) to use, from the
 * setting `override` (a key of MESSAGES, or empty for the browser's) and the browser's
 * `preferred` languages. */
export function chooseLanguage(preferred = [], override = '') {
  if (override && MESSAGES[override]) {
    // The browser's regional variant of the language picked, if it lists one.
    const regional = preferred.find((tag) => primary(tag) === override);
    return { lang: override, locale: regional || override };
  }
  for (const tag of preferred) {
    if (MESSAGES[primary(tag)]) return { lang: primary(tag), locale: tag };
  }
  return { lang: 'en', locale: 'en' };
}

function primary(tag) {
  return String(tag || '').toLowerCase().split(/[-_]/)[0];
}

const stored = () => {
  try { return globalThis.localStorage?.getItem(LANG_KEY) || ''; } catch { return ''; }
};

/** The language picked in the settings ('' for the browser's). */
export function languageSetting() {
  const v = stored();
  return MESSAGES[v] ? v : '';
}

/** Keeps `language` ('' for the browser's) for the next load of the page. */
export function setLanguageSetting(language) {
  if (language && MESSAGES[language]) localStorage.setItem(LANG_KEY, language);
  else localStorage.removeItem(LANG_KEY);
}

const browserLanguages = () => {
  const nav = globalThis.navigator;
  if (!nav) return [];
  return nav.languages?.length ? [...nav.languages] : [nav.language].filter(Boolean);
};

export const { lang, locale } = chooseLanguage(browserLanguages(), languageSetting());

const plurals = new Intl.PluralRules(locale);
const numbers = new Intl.NumberFormat(locale);

/** The message `key` in the page's language with `params` put in its `{name}` placeholders. */
export function t(key, params = {}) {
  let msg = MESSAGES[lang][key] ?? MESSAGES.en[key];
  if (msg === undefined) {
    console.error(`i18n: no message "${key}"`);
    return key;
  }
  if (typeof msg === 'object') msg = msg[plurals.select(Number(params.count) || 0)] ?? msg.other;
  return msg.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const v = params[name];
    return typeof v === 'number' ? numbers.format(v) : String(v ?? '');
  });
}

/** Puts the messages named by the `data-i18n*` attributes under `root` in place. */
export function translatePage(root) {
  if (root === document) document.documentElement.lang = lang;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const attr of ['title', 'aria-label', 'placeholder']) {
    for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.getAttribute(`data-i18n-${attr}`)));
  }
}

// ----- numbers, sizes, dates -----

/** `n` written the locale's way ("1,234.5", "1.234,5"); `options` as for Intl.NumberFormat. */
export function formatNumber(n, options) {
  return options ? new Intl.NumberFormat(locale, options).format(n) : numbers.format(n);
}

/** Bytes as people read them: "512 B", "4.2 KB" ("4,2 KB" in German), "12 MB" (binary
 * multiples, as file managers on most systems show them). */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return t('size.b', { n });
  const units = ['size.kb', 'size.mb', 'size.gb', 'size.tb'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const digits = v < 10 ? 1 : 0;
  const shown = formatNumber(v, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  // Literal keys, so that the catalogue check finds them.
  return [t('size.kb', { n: shown }), t('size.mb', { n: shown }), t('size.gb', { n: shown }), t('size.tb', { n: shown })][i];
}

const HOUR_MINUTE = { hour: '2-digit', minute: '2-digit' };

/** The time of day of `ts` ("02:05 PM", "14:05"), with the day when it is not today. */
export function formatTime(ts) {
  const d = new Date(ts);
  const time = d.toLocaleTimeString(locale, HOUR_MINUTE);
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString(locale, { month: 'short', day: 'numeric' })} ${time}`;
}

/** The time of day of `ts` with seconds ("2:05:07 PM", "14:05:07"). */
export function formatClock(ts) {
  return new Date(ts).toLocaleTimeString(locale);
}

/** A date and time in full ("3/5/2025, 2:05:07 PM"). */
export function formatDateTime(ts) {
  return new Date(ts).toLocaleString(locale);
}

const midnight = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();

/** Days from the day of `ts` to today's (local time): 0 today, 1 yesterday. */
function daysAgo(ts, now) {
  return Math.round((midnight(now) - midnight(new Date(ts))) / 86400000);
}

/** "today", "yesterday" in the locale's words (Intl.RelativeTimeFormat). */
function relativeDay(days) {
  return new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(-days, 'day');
}

function capitalise(s) {
  return s.charAt(0).toLocaleUpperCase(locale) + s.slice(1);
}

/** The label of a day separator: "Today", "Yesterday", else the weekday and date (with the
 * year when it is not this year's), in the locale's words. */
export function dayLabel(ts, now = new Date()) {
  const days = daysAgo(ts, now);
  if (days === 0 || days === 1) return capitalise(relativeDay(days));
  const d = new Date(ts);
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(locale, opts);
}

/** When someone was last seen: "last seen 02:05 PM", "last seen yesterday at 02:05 PM", or the
 * day and time when longer ago. */
export function lastSeenText(ts, now = new Date()) {
  if (!ts) return t('presence.offline');
  const days = daysAgo(ts, now);
  const time = new Date(ts).toLocaleTimeString(locale, HOUR_MINUTE);
  if (days === 0) return t('presence.lastSeen', { when: time });
  if (days === 1) return t('presence.lastSeenDay', { day: relativeDay(1), time });
  return t('presence.lastSeen', { when: formatTime(ts) });
}
