/**
 * Synthetic NER training sentences for the Veil on-device model.
 *
 * Usage: npx tsx scripts/ner/synth.ts <out.jsonl> [count=20000] [seed=13]
 * Writes one JSON object per line: {"text": string, "spans": [[start, end, label], ...]}
 * with labels PERSON, LOCATION, ORGANIZATION, ADDRESS (character offsets, end exclusive).
 *
 * Templates are written for Veil (support tickets, clinical notes, e-mails, chat) and filled
 * with @faker-js/faker values from many locales. Convention: a full postal address written
 * contiguously (street line [+ unit] [+ city/state/postcode]) is ONE ADDRESS span; a city,
 * region or country mentioned on its own is LOCATION.
 *
 * Genres added for 1.2.0: call transcripts (names spelled out letter by letter), OCR'd forms with
 * `NAME:` fields and ALL-CAPS values, e-mail threads (quoted headers, signatures), CSV / JSON / YAML /
 * SQL / log / git-log lines with person values, lowercase chat, names that are common words, and
 * German / French / Spanish / Dutch / Hungarian sentences filled from the matching faker locale.
 * PII-free text with section headers, drug / test names and identifier context words is all O.
 */
import { writeFileSync } from 'node:fs';
import { allFakers, faker as baseFaker, type Faker } from '@faker-js/faker';

const out = process.argv[2] ?? 'scripts/ner/out/synth.jsonl';
const count = Number(process.argv[3] ?? 20000);
const seed = Number(process.argv[4] ?? 13);

// Locales weighted: English-speaking heavier, but many cultures and scripts.
const LOCALES: Array<[string, number]> = [
  ['en_US', 10], ['en_GB', 4], ['en_IN', 4], ['en_AU', 2], ['en_CA', 2], ['en_NG', 2], ['en_ZA', 1], ['en_IE', 1],
  ['de', 3], ['fr', 3], ['es', 3], ['es_MX', 2], ['it', 2], ['pt_BR', 3], ['pt_PT', 1], ['nl', 2], ['pl', 2],
  ['ru', 2], ['uk', 1], ['tr', 2], ['ar', 2], ['fa', 1], ['he', 1], ['ja', 2], ['ko', 2], ['zh_CN', 2], ['zh_TW', 1],
  ['vi', 2], ['id_ID', 1], ['sv', 1], ['nb_NO', 1], ['da', 1], ['fi', 1], ['cs_CZ', 1], ['hu', 1], ['ro', 1],
  ['el', 1], ['hr', 1], ['sk', 1], ['lv', 1], ['ka_GE', 1], ['hy', 1], ['az', 1], ['ne', 1], ['bn_BD', 1],
  ['th', 1], ['yo_NG', 1], ['zu_ZA', 1], ['af_ZA', 1], ['fr_CA', 1], ['de_CH', 1], ['ur', 1],
];
const fakers: Array<[Faker, number]> = LOCALES.filter(([l]) => (allFakers as Record<string, Faker>)[l]).map(([l, w]) => [
  (allFakers as Record<string, Faker>)[l]!,
  w,
]);
const totalW = fakers.reduce((a, [, w]) => a + w, 0);
baseFaker.seed(seed);
fakers.forEach(([f], i) => f.seed(seed * 1000 + i));
const en = (allFakers as Record<string, Faker>)['en_US']!;

const rnd = () => baseFaker.number.float({ min: 0, max: 1 });
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
function pickFaker(): Faker {
  let r = rnd() * totalW;
  for (const [f, w] of fakers) if ((r -= w) < 0) return f;
  return en;
}
function safe(f: Faker, fn: (f: Faker) => string): string {
  try {
    const v = fn(f);
    if (v && v.trim()) return v.trim();
  } catch {
    /* locale lacks this module */
  }
  return fn(en).trim();
}

const COMMON_WORD_NAMES = [
  'Rose', 'Hunter', 'Will', 'Mark', 'Bill', 'Grace', 'Joy', 'Summer', 'Frank', 'May', 'Dawn', 'Young', 'King', 'Price',
  'Hope', 'Faith', 'Amber', 'Violet', 'Lily', 'Iris', 'Ruby', 'Pearl', 'Jade', 'Autumn', 'April', 'June', 'Rich',
  'Sterling', 'Baker', 'Cook', 'Smith', 'Carpenter', 'Mason', 'Fisher', 'Bishop', 'Bell', 'Wood', 'Stone', 'Hill',
  'Brown', 'White', 'Green', 'Black', 'Gray', 'Long', 'Short', 'Little', 'Sharp', 'Rice', 'Lane', 'Fox', 'Wolf',
  'Cash', 'Chase', 'Miles', 'Max', 'Guy', 'Drew', 'Sky', 'Storm', 'Rock', 'Dale', 'Glen', 'Heath', 'Forest',
  'Cliff', 'Brook', 'River', 'Sunny', 'Honey', 'Harmony', 'Melody', 'Crystal', 'Penny', 'Sandy', 'Holly',
];
// Non-name uses of the same words (all O).
const NONNAME_SENTENCES = [
  'I will send the bill on Monday.', 'Please mark the box and sign below.', 'The price went up again this month.',
  'We planted a rose bush near the gate.', 'There is a grace period of 30 days.', 'What a joy to work with this team.',
  'Our summer schedule starts next week.', 'Let me be frank about the delays.', 'May I ask for an extension?',
  'The shift starts at dawn.', 'Young patients need a smaller dose.', 'A king size bed costs extra.',
  'The hunter season closes soon.', 'Will this fix the login issue?', 'I hope the refund arrives soon.',
  'The amber light on the router is blinking.', 'She has a sharp pain in the left knee.', 'The rice cooker is broken.',
  'Take the long way around the hill.', 'The stone floor is cold.', 'Please chase the supplier for an update.',
  'The storm knocked out power overnight.', 'It was a sunny day.', 'The river flooded the basement.',
  'We need more cash for petty expenses.', 'The wood panels were delivered.', 'Brown bread and green tea, please.',
  'I will be there in may or june.', 'The bill was paid in full.', 'Mark my words, this will work.',
  'Grace under pressure is rare.', 'The young engineer fixed it.', 'Prices are listed in the catalog.',
  'That was a frank conversation.', 'The little cat sat on the mat.', 'Miles of cable were installed.',
  'Can you drew... sorry, draw the diagram again?', 'The crystal glass broke in transit.', 'Honey, lemon and warm water help.',
];

type Slot = 'PERSON' | 'FIRST' | 'LAST' | 'TITLED' | 'CITY' | 'COUNTRY' | 'STATE' | 'ORG' | 'STREET' | 'FULLADDR' |
  'EMAIL' | 'PHONE' | 'DATE' | 'NUM' | 'WORDNAME' | 'DOCTOR' | 'HOSPITAL' | 'UPPER' | 'UPLAST' | 'SPELLED' |
  'LOWFIRST' | 'LOWPERSON' | 'HASH';
const LABEL: Partial<Record<Slot, string>> = {
  PERSON: 'PERSON', FIRST: 'PERSON', LAST: 'PERSON', TITLED: 'PERSON', WORDNAME: 'PERSON', DOCTOR: 'PERSON',
  UPPER: 'PERSON', UPLAST: 'PERSON', SPELLED: 'PERSON', LOWFIRST: 'PERSON', LOWPERSON: 'PERSON',
  CITY: 'LOCATION', COUNTRY: 'LOCATION', STATE: 'LOCATION', ORG: 'ORGANIZATION', HOSPITAL: 'ORGANIZATION',
  STREET: 'ADDRESS', FULLADDR: 'ADDRESS',
};

const TEMPLATES: string[] = [
  // support tickets
  'Hi, my name is {PERSON} and I cannot log into my account since yesterday.',
  'Customer {PERSON} reported that the invoice from {ORG} was charged twice.',
  'Please update the shipping address for {PERSON} to {FULLADDR}.',
  'Ticket #{NUM}: {FIRST} says the package never arrived at {STREET}.',
  'Hello support, this is {FIRST} {LAST} from {ORG}. Our dashboard is down again.',
  'Can you reset the password for {FIRST}? She works in our {CITY} office.',
  'Escalated by {TITLED}: the customer in {CITY}, {COUNTRY} is still waiting for a refund.',
  'The order placed by {PERSON} on {DATE} should ship to {FULLADDR}',
  'Refund approved for {PERSON} ({EMAIL}), account {NUM}.',
  'I moved to {FULLADDR} last month, please change my billing address.',
  'Our new office is at {STREET}, {CITY}.',
  '{PERSON} called from {PHONE} about the late delivery to {CITY}.',
  'Agent note: spoke with {FIRST}, confirmed identity, updated address to {STREET}.',
  'Dear {TITLED}, thank you for contacting {ORG} support.',
  'Forwarding this to {FIRST} in billing. cc {PERSON}',
  'The contract between {ORG} and {ORG} was signed by {PERSON}.',
  'My manager {PERSON} approved the purchase, please invoice {ORG}.',
  // clinical notes
  'Patient {PERSON}, DOB {DATE}, seen today for follow-up of hypertension.',
  'Pt {FIRST} {LAST} presented to {HOSPITAL} with chest pain radiating to the left arm.',
  'Referred by {DOCTOR} to the cardiology clinic at {HOSPITAL}.',
  '{LAST}, {FIRST} - admitted {DATE}, discharged home to {FULLADDR}.',
  'Mother {FIRST} reports the child has had fever for three days.',
  'Seen by {DOCTOR}. Plan: repeat labs in 2 weeks, call {PHONE} with results.',
  'Patient lives alone at {STREET} and her daughter {FIRST} visits weekly.',
  'Emergency contact: {PERSON} (husband), {PHONE}.',
  'The patient was transferred from {HOSPITAL} in {CITY}.',
  'Discussed results with {TITLED} and his wife {FIRST}.',
  // emails
  'Hi {FIRST},\n\nThanks for the update. I will meet {PERSON} in {CITY} next Tuesday.\n\nBest,\n{PERSON}',
  'From: {PERSON} <{EMAIL}>\nTo: {PERSON}\nSubject: Meeting at {ORG}',
  'Dear {FIRST}, please find attached the offer letter from {ORG}.',
  'Regards,\n{PERSON}\n{ORG}\n{FULLADDR}',
  'Hello {FIRST} and {FIRST}, the workshop moves to our {CITY} office.',
  '{PERSON} will join {ORG} as head of sales starting {DATE}.',
  'Kind regards, {PERSON}, Senior Analyst, {ORG}, {CITY}',
  'Please send the signed documents to {PERSON}, {FULLADDR}.',
  'I am writing on behalf of {PERSON}, who moved from {COUNTRY} to {CITY} last year.',
  // chat
  'hey {FIRST} are you coming to {CITY} this weekend?',
  'lol {FIRST} said {FIRST} is moving to {COUNTRY}',
  'can u ask {FIRST} to send me the address? its {STREET} i think',
  'just landed in {CITY}!! {FIRST} picking me up',
  'omg {PERSON} got the job at {ORG}',
  '@{FIRST} thanks!! see you at {ORG} tomorrow',
  'talked to {FIRST} {LAST} yesterday, she lives on {STREET} now',
  'ok so {FIRST} and me are driving from {CITY} to {CITY}',
  // general / news-like
  '{PERSON} was born in {CITY}, {COUNTRY}, and studied at {ORG}.',
  'The mayor of {CITY}, {PERSON}, announced a new budget.',
  '{ORG} opened a new plant near {CITY} in {STATE}.',
  'According to {PERSON}, a spokesperson for {ORG}, the merger is on hold.',
  '{FIRST} works as a nurse in {CITY} and volunteers at {ORG}.',
  'The conference in {CITY} was organized by {ORG} and chaired by {TITLED}.',
  'Shares of {ORG} fell after the report from {COUNTRY}.',
  'Send the parcel to {FULLADDR}, attention {PERSON}.',
  'Visitors to {CITY} often stay near {STREET}.',
  'Interview with {PERSON}, founder of {ORG}.',
  'My landlord {PERSON} owns the building at {STREET}.',
  'We flew from {COUNTRY} to {CITY} with {FIRST} and the kids.',
  'The applicant, {PERSON}, currently resides at {FULLADDR}.',
  'Name: {PERSON}\nAddress: {FULLADDR}\nPhone: {PHONE}',
  'Employee: {LAST}, {FIRST} | Dept: Finance | Location: {CITY}',
  '{WORDNAME} {LAST} signed the lease yesterday.',
  'I spoke with {WORDNAME} about the schedule.',
  'Ask {WORDNAME} whether the invoice was sent.',
  '{WORDNAME} from {ORG} will call you back.',
  'Thanks {WORDNAME}, that fixed it!',
  'Dr. {WORDNAME} {LAST} reviewed the scan.',
  'Please sign the form, {TITLED}.',
  '{FIRST}\'s flight to {CITY} was cancelled.',
  'Is {FIRST} still at {ORG}?',
  'Account holder: {PERSON}',
  'Signed, {PERSON}',
  'Witness: {PERSON}, {FULLADDR}',
  'The {ORG} branch on {STREET} closes at 5 pm.',
  // call transcripts (ASR style, names spelled out)
  'Agent: Can I have your full name please?\nCaller: Yeah it is {FIRST} {LAST}, last name spelled {SPELLED}.',
  'AGENT: thank you for calling {ORG}, who am I speaking with?\nCUSTOMER: uh this is {LOWPERSON}',
  'Caller: my name is {FIRST}, that is {SPELLED}, and I live in {CITY}.',
  '[00:01:12] Speaker 2: so I talked to {FIRST} about it and um {FIRST} said the claim was denied',
  'Operator: and the patient name? Caller: {PERSON}. {SPELLED}. She is at {FULLADDR}.',
  'Rep: Could you spell the surname? Customer: sure, {SPELLED}, {LAST}.',
  'transcript: ok mister {LAST} i see the account here, and your wife {LOWFIRST} is also on it',
  // OCR'd forms and records
  'PATIENT NAME: {UPPER}\nDATE OF BIRTH: {DATE}\nADDRESS: {FULLADDR}',
  'Name ............ {PERSON}\nAddress ......... {FULLADDR}\nTel ............. {PHONE}',
  'SURNAME: {UPLAST}    GIVEN NAMES: {UPPER}\nPLACE OF BIRTH: {CITY}',
  'Last Name: {LAST}  First Name: {FIRST}  MI: A\nEmployer: {ORG}',
  'APPLICANT | {UPPER} | {CITY} | {DATE}',
  'Insured: {UPPER}  Policy holder: {UPPER}\nInsurer: {ORG}',
  'Next of kin: {PERSON} (daughter) Tel {PHONE}',
  'Signature of witness: _______ Print name: {UPPER}',
  'Referring physician: {DOCTOR}\nFacility: {HOSPITAL}',
  'Guarantor {LAST}, {FIRST}; relation: spouse; address {FULLADDR}',
  // e-mail threads and signatures
  'On Tue, {PERSON} <{EMAIL}> wrote:\n> Hi {FIRST},\n> can we move the call?',
  '-----Original Message-----\nFrom: {PERSON}\nSent: Monday\nTo: {PERSON}; {PERSON}\nSubject: RE: renewal',
  'Thanks,\n{FIRST}\n\n--\n{PERSON}\nAccount Manager | {ORG}\nM: {PHONE}',
  'Best regards\n\n{PERSON}\nHead of Operations\n{ORG}\n{FULLADDR}',
  'Cheers, {FIRST}\nSent from my iPhone',
  '{FIRST} - looping in {PERSON} from legal. {FIRST}, see below.',
  // machine-readable text
  'id,first_name,last_name,city\n{NUM},{FIRST},{LAST},{CITY}',
  '{NUM};{PERSON};{EMAIL};{CITY}',
  '"{LAST}","{FIRST}","{FULLADDR}","{PHONE}"',
  '{"id": {NUM}, "name": "{PERSON}", "city": "{CITY}", "employer": "{ORG}"}',
  '{"patient": {"given": "{FIRST}", "family": "{LAST}"}, "facility": "{HOSPITAL}"}',
  'customer:\n  name: {PERSON}\n  address: {FULLADDR}\n  company: {ORG}',
  '- full_name: {PERSON}\n  location: {CITY}',
  "INSERT INTO patients (id, name, city) VALUES ({NUM}, '{PERSON}', '{CITY}');",
  "UPDATE users SET display_name = '{PERSON}' WHERE id = {NUM};",
  '| {NUM} | {PERSON} | {CITY} | active |',
  '2024-05-02T11:04:19Z INFO order {NUM} shipped to {PERSON} in {CITY}',
  'WARN payment failed for customer_name="{PERSON}" account={NUM}',
  'commit {HASH}\nAuthor: {PERSON} <{EMAIL}>\nDate:   Mon\n\n    Fix invoice rounding reported by {FIRST}',
  '{HASH} Merge pull request #{NUM} from {LOWFIRST}/fix-login',
  'Signed-off-by: {PERSON} <{EMAIL}>',
  'Co-authored-by: {PERSON} <{EMAIL}>',
  // lowercase chat and all caps
  'hey its {LOWFIRST}, tell {LOWFIRST} ill be late',
  'yo {LOWFIRST} did {LOWFIRST} send the file',
  'ask {LOWPERSON} lol shes the one who booked it',
  'me and {LOWFIRST} r going to {CITY} tmrw',
  'PLEASE CALL {UPPER} BACK ASAP RE: ACCOUNT',
  'ATTN {UPPER}, {ORG}',
  // names that are common words, decided by context
  '{WORDNAME} said she will bring the bill tomorrow.',
  'Please ask {WORDNAME} {LAST} to mark the invoice as paid.',
  'I hope {WORDNAME} can join; may we start at 9?',
  'cc {WORDNAME}, will you review this?',
  'Spoke to {WORDNAME} at the front desk.',
];

// Sentences in other languages, filled from a matching locale.
const LANG_TEMPLATES: Array<[string, string]> = [
  ['de', 'Sehr geehrte Frau {LAST},\nvielen Dank für Ihre Nachricht.'],
  ['de', 'Herr {PERSON} wohnt in der {STREET} in {CITY}.'],
  ['de', 'Patientin {PERSON}, geb. {DATE}, wurde im {HOSPITAL} aufgenommen.'],
  ['de', 'Bitte leiten Sie die Rechnung an {FIRST} {LAST} bei {ORG} weiter.'],
  ['de', 'Hallo {FIRST}, kannst du {FIRST} morgen in {CITY} abholen?'],
  ['de', 'Mit freundlichen Grüßen\n{PERSON}\n{ORG}'],
  ['fr', 'Bonjour {FIRST}, je vous écris au sujet du dossier de {PERSON}.'],
  ['fr', 'M. {PERSON} habite au {FULLADDR}.'],
  ['fr', 'La patiente {PERSON} a été transférée à {CITY}.'],
  ['fr', 'Cordialement,\n{PERSON}\n{ORG}'],
  ['fr', 'Madame {LAST} travaille chez {ORG} à {CITY}.'],
  ['es', 'Hola {FIRST}, el paciente {PERSON} ingresó en el {HOSPITAL} de {CITY}.'],
  ['es', 'La señora {PERSON} vive en {FULLADDR}.'],
  ['es', 'Atentamente,\n{PERSON}\n{ORG}'],
  ['es', 'Mañana {FIRST} y {FIRST} viajan a {CITY}.'],
  ['es_MX', 'El cliente {PERSON} llamó desde {CITY} por la factura de {ORG}.'],
  ['nl', 'Beste {FIRST}, mevrouw {PERSON} woont in {CITY}.'],
  ['nl', 'De heer {LAST} heeft gebeld over zijn bestelling bij {ORG}.'],
  ['nl', 'Met vriendelijke groet,\n{PERSON}'],
  ['nl', 'Het adres van {PERSON} is {FULLADDR}.'],
  ['hu', 'Kedves {FIRST}! {PERSON} {CITY} városban lakik.'],
  ['hu', 'Tisztelt {PERSON}!\nKöszönjük levelét.'],
  ['hu', 'A beteg, {PERSON}, a {HOSPITAL} osztályán fekszik.'],
  ['hu', 'Üdvözlettel: {PERSON}, {ORG}'],
  ['it', 'Gentile {FIRST}, il signor {PERSON} abita a {CITY}.'],
  ['pt_BR', 'Olá {FIRST}, a paciente {PERSON} foi atendida em {CITY}.'],
  ['pl', 'Pan {PERSON} mieszka w {CITY}.'],
];
const NO_PII: string[] = [
  'How do I reset my password?', 'The server returned a 500 error after the last deploy.',
  'Please summarize the attached report in three bullet points.', 'What is the refund policy for annual plans?',
  'Translate this paragraph into French.', 'The meeting is moved to Thursday at 3 pm.',
  'Blood pressure 130/85, heart rate 72, no acute distress.', 'Continue current medication and follow up in 6 weeks.',
  'Can you explain how compound interest works?', 'The build failed because of a missing dependency.',
  'Write a short poem about autumn leaves.', 'Our quarterly revenue grew by 12 percent.',
  'The printer on the second floor is out of toner.', 'Lab results are within normal limits.',
  'I would like to cancel my subscription.', 'The app crashes when I open the settings page.',
  'Please convert 25 degrees Celsius to Fahrenheit.', 'Patient denies fever, chills or night sweats.',
  'What are the opening hours on public holidays?', 'The delivery was late and the box was damaged.',
  'Sort this list alphabetically and remove duplicates.', 'Thanks, that solved the problem!',
  'Can you recommend a good book on statistics?', 'The invoice total does not match the quote.',
  'Increase the font size in the header.', 'No known drug allergies.', 'hi can someone help me with my order',
  'THE SYSTEM IS DOWN AGAIN', 'ok thanks, talk tomorrow', 'Review the pull request before merging.',
  'Discharge Summary\nDiagnosis: community-acquired pneumonia\nMedication: Amoxicillin 500 mg three times daily',
  'Troponin negative x2, D-dimer elevated, CT angiogram ordered.', 'Allergies: Penicillin. Current meds: Lisinopril, Metformin.',
  'Beneficiary details were verified against the IBAN on file.', 'SSN and date of birth are required for the background check.',
  'Chief Complaint: chest pain\nAssessment and Plan: see below', 'Account Number: see attached statement',
  'DOB verified. MRN confirmed. Insurance ID pending.', 'Name: (not provided)\nAddress: (not provided)',
  'Order #48213 shipped; invoice INV-2291 attached.', 'Ticket status: Resolved. Priority: High. Queue: Billing.',
  'id,status,amount\n1021,paid,49.00\n1022,refunded,12.50', '{"status": "ok", "items": 3, "currency": "EUR"}',
  'ERROR 2024-05-02 timeout while connecting to db-primary', 'Vielen Dank für Ihre Geduld.', 'Merci pour votre réponse rapide.',
  'Gracias por su paciencia.', 'Bedankt voor uw bericht.', 'Köszönöm a gyors választ.', 'Monday Tuesday Wednesday January February',
  'Prescribed Atorvastatin 20 mg; follow-up HbA1c in three months.', 'Hemoglobin, Creatinine and Potassium within range.',
];
const TITLES = ['Mr.', 'Mrs.', 'Ms.', 'Dr.', 'Prof.', 'Mr', 'Ms', 'Dr', 'Sir', 'Madam'];
const HOSP = ['Hospital', 'Medical Center', 'Clinic', 'General Hospital', 'Health Centre', 'Children\'s Hospital'];
const ORG_PATTERNS = [
  (f: Faker) => safe(f, (x) => x.company.name()),
  (f: Faker) => safe(en, (x) => x.company.name()),
  (f: Faker) => `${safe(f, (x) => x.location.city())} ${pick(['Bank', 'University', 'City Council', 'Football Club', 'Public Library', 'Police Department', 'Airport', 'Insurance'])}`,
  (f: Faker) => `University of ${safe(f, (x) => x.location.city())}`,
  (f: Faker) => `${safe(f, (x) => x.person.lastName())} ${pick(['& Partners', 'LLP', 'GmbH', 'Ltd', 'Inc.', 'Group', 'Consulting', 'Logistics', 'Foundation'])}`,
];

// faker's fullName() sometimes starts with a title or honorific ("Dr.", "Mrs.", "g.", "Sra."): titles
// stay outside PERSON spans, so it is cut off (a short first word ending in "." or a known title)
const HONORIFIC = /^(?:(?:\p{L}{1,5}\.)|Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau|Mme|Mlle|Dhr|Mevr|Pan|Pani|Ing|Sr|Sra|Srta|Don|Doña)\s+/u;
function personName(f: Faker): string {
  const r = rnd();
  if (r < 0.7) return safe(f, (x) => `${x.person.firstName()} ${x.person.lastName()}`);
  if (r < 0.85) return safe(f, (x) => x.person.fullName().replace(HONORIFIC, '') || x.person.lastName());
  if (r < 0.95) return safe(f, (x) => `${x.person.firstName()} ${x.person.middleName?.() ?? x.person.firstName()} ${x.person.lastName()}`);
  return safe(f, (x) => `${x.person.firstName()} ${x.person.lastName()}-${x.person.lastName()}`);
}
function fullAddr(f: Faker): string {
  const street = safe(f, (x) => x.location.streetAddress(rnd() < 0.35));
  const r = rnd();
  if (r < 0.25) return street;
  const city = safe(f, (x) => x.location.city());
  const zip = safe(f, (x) => x.location.zipCode());
  if (r < 0.5) return `${street}, ${city}`;
  if (r < 0.75) return `${street}, ${city} ${zip}`;
  const st = safe(f, (x) => x.location.state({ abbreviated: rnd() < 0.5 }));
  return `${street}, ${city}, ${st} ${zip}`;
}

function fill(slot: Slot, f: Faker): string {
  switch (slot) {
    case 'PERSON': return personName(f);
    case 'FIRST': return safe(f, (x) => x.person.firstName());
    case 'LAST': return safe(f, (x) => x.person.lastName());
    case 'TITLED': return `${pick(TITLES)} ${rnd() < 0.5 ? safe(f, (x) => x.person.lastName()) : personName(f)}`;
    case 'DOCTOR': return `${pick(['Dr.', 'Dr', 'Doctor'])} ${rnd() < 0.5 ? safe(f, (x) => x.person.lastName()) : personName(f)}`;
    case 'WORDNAME': return pick(COMMON_WORD_NAMES);
    case 'CITY': return safe(f, (x) => x.location.city());
    case 'COUNTRY': return safe(en, (x) => x.location.country());
    case 'STATE': return safe(f, (x) => x.location.state());
    case 'ORG': return pick(ORG_PATTERNS)(f);
    case 'HOSPITAL': return rnd() < 0.5 ? `${safe(f, (x) => x.location.city())} ${pick(HOSP)}` : `St. ${safe(en, (x) => x.person.firstName())}'s ${pick(HOSP)}`;
    case 'STREET': return safe(f, (x) => x.location.streetAddress(rnd() < 0.3));
    case 'FULLADDR': return fullAddr(f);
    case 'EMAIL': return safe(en, (x) => x.internet.email());
    case 'PHONE': return safe(f, (x) => x.phone.number());
    case 'DATE': return safe(en, (x) => x.date.past({ years: 60, refDate: '2025-01-01T00:00:00.000Z' }).toISOString().slice(0, 10));
    case 'NUM': return String(Math.floor(rnd() * 900000) + 1000);
    case 'UPPER': return personName(f).toUpperCase();
    case 'UPLAST': return safe(f, (x) => x.person.lastName()).toUpperCase();
    case 'SPELLED': {
      const n = safe(rnd() < 0.7 ? en : f, (x) => x.person.lastName()).toUpperCase();
      return Array.from(n).join(pick(['-', ' ', '. ', ' as in ']) === ' as in ' ? ' ' : pick(['-', ' ', '. ']));
    }
    case 'LOWFIRST': return safe(f, (x) => x.person.firstName()).toLowerCase();
    case 'LOWPERSON': return personName(f).toLowerCase();
    case 'HASH': return Math.floor(rnd() * 0xffffffff).toString(16).padStart(8, '0') + 'e3a1f0';
  }
}

// Titles are part of the PERSON span only for TITLED/DOCTOR? No: keep titles OUT of the span (the
// runtime masks the name; "Dr." is not PII). We therefore label only the name part.
function render(tpl: string, f: Faker): { text: string; spans: Array<[number, number, string]> } {
  let text = '';
  const spans: Array<[number, number, string]> = [];
  const re = /\{([A-Z]+)\}/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(tpl))) {
    text += tpl.slice(last, m.index);
    last = m.index + m[0].length;
    const slot = m[1] as Slot;
    const v = fill(slot, f).replace(/\s+/g, ' ');
    const label = LABEL[slot];
    let start = text.length;
    let value = v;
    if (slot === 'TITLED' || slot === 'DOCTOR') {
      const sp = v.indexOf(' ');
      start += sp + 1;
      value = v.slice(sp + 1);
    }
    text += v;
    const prev = spans[spans.length - 1];
    // "{FIRST} {LAST}" is one person: merge a span that follows one of the same label after a single space
    if (label && prev && prev[2] === label && label === 'PERSON' && text.slice(prev[1], start) === ' ') prev[1] = start + value.length;
    else if (label) spans.push([start, start + value.length, label]);
  }
  text += tpl.slice(last);
  return { text, spans };
}

const lines: string[] = [];
for (let i = 0; i < count; i++) {
  const r = rnd();
  let ex: { text: string; spans: Array<[number, number, string]> };
  if (r < 0.08) ex = { text: pick(NO_PII), spans: [] };
  else if (r < 0.14) ex = { text: pick(NONNAME_SENTENCES), spans: [] };
  else if (r < 0.24) {
    const [loc, tpl] = pick(LANG_TEMPLATES);
    ex = render(tpl, (allFakers as Record<string, Faker>)[loc] ?? en);
  } else ex = render(pick(TEMPLATES), pickFaker());
  const c = rnd();
  // case changes that alter the length (e.g. Turkish dotted I) would shift spans: keep the original then
  const cased = c < 0.15 ? ex.text.toLowerCase() : c < 0.18 ? ex.text.toUpperCase() : ex.text;
  if (cased.length === ex.text.length) ex.text = cased;
  lines.push(JSON.stringify(ex));
}
const ok = lines.filter((l) => {
  const ex = JSON.parse(l) as { text: string; spans: Array<[number, number, string]> };
  return ex.spans.every(([s, e]) => s >= 0 && e <= ex.text.length && s < e);
});
writeFileSync(out, ok.join('\n') + '\n');
console.log(`synth: wrote ${ok.length} examples to ${out}`);
