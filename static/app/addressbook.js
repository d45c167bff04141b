// Reading an address book the person picked: a vCard file (.vcf: the TEL and EMAIL lines of each
// card) or plain text / CSV with phone numbers and e-mail addresses (one or more per line, in any
// column). Nothing leaves the page but the numbers and addresses found.

/** Entries `POST /api/contacts/match` takes in one request (README, "HTTP API"). */
export const MATCH_BATCH = 5000;
/** Requests one import may make: the server allows 10 lookups at once per user (then one a
 * minute), so a bigger book is refused up front rather than cut off half-way. */
export const MAX_BATCHES = 10;
/** Larger files are refused before they are read. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
/** A phone number as people write it: digits with +, spaces, dots, dashes, slashes, brackets. */
const PHONE = /^\+?[\d\s().\-/]+$/;
const MIN_PHONE_DIGITS = 5;

/** The phones and e-mails in `text` (each once, in the order found). */
export function parseAddressBook(text) {
  const phones = new Set();
  const emails = new Set();
  const add = (value) => {
    const v = value.trim().replace(/^"+|"+$/g, '').replace(/^(tel|mailto):/i, '').trim();
    if (!v) return;
    if (EMAIL.test(v)) emails.add(v.toLowerCase());
    else if (PHONE.test(v) && v.replace(/\D/g, '').length >= MIN_PHONE_DIGITS) phones.add(v);
  };
  if (/^BEGIN:VCARD/im.test(text)) {
    // Folded lines (RFC 6350 §3.2) continue with a space or a tab.
    const lines = text.replace(/\r\n?/g, '\n').replace(/\n[ \t]/g, '').split('\n');
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      // "item1.TEL;TYPE=CELL" → "TEL"
      const name = line.slice(0, colon).split(';')[0].split('.').pop().toUpperCase();
      if (name === 'TEL' || name === 'EMAIL') add(line.slice(colon + 1));
    }
  } else {
    for (const line of text.split(/\r\n?|\n/)) {
      for (const cell of line.split(/[,;\t]/)) add(cell);
    }
  }
  return { phones: [...phones], emails: [...emails] };
}

/** `book` cut into requests of at most MATCH_BATCH entries together. */
export function batches({ phones, emails }) {
  const all = [...phones.map((p) => ['phones', p]), ...emails.map((e) => ['emails', e])];
  const out = [];
  for (let i = 0; i < all.length; i += MATCH_BATCH) {
    const part = { phones: [], emails: [] };
    for (const [kind, v] of all.slice(i, i + MATCH_BATCH)) part[kind].push(v);
    out.push(part);
  }
  return out;
}
