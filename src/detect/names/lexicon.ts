/**
 * Word knowledge for the name passes, built once on first use (pure; Workers-safe):
 * given names and family names (faker's locales), ordinary English words (SCOWL ≤ 50), the
 * context words and titles that label values instead of being them, month and weekday names
 * and country and language names in the languages Veil is used with (from `Intl`, so no list
 * to keep), and word shapes of drugs, lab tests and diagnoses (INN stems and medical
 * suffixes). Every lookup takes a lowercase word.
 */
import { frontDecode } from './front-code.js';
import { COMMON_WORDS, FIRST_NAMES, SURNAMES } from './lexicon-data.js';

let first: Set<string> | null = null;
let last: Set<string> | null = null;
let vocab: Set<string> | null = null;

export function isFirstName(w: string): boolean {
  return (first ??= frontDecode(FIRST_NAMES)).has(w);
}
export function isSurname(w: string): boolean {
  return (last ??= frontDecode(SURNAMES)).has(w);
}
export function isNameWord(w: string): boolean {
  return isFirstName(w) || isSurname(w);
}
/** An ordinary English word (lowercase in a general word list). */
export function isCommonWord(w: string): boolean {
  return (vocab ??= frontDecode(COMMON_WORDS)).has(w.replace(/’/g, "'"));
}

/** Titles and honorifics (outside a name span, never a name part). */
export const TITLES = new Set(
  'mr mrs ms miss mx dr prof sir dame lord lady madam madame mme mlle monsieur mademoiselle herr frau fr hr sr sra srta sñr señor señora señorita don doña dhr mevr mw meneer mevrouw mijnheer juffrouw úr asszony dott dottssa sig signor signora signore ing rev father sister brother capt sgt lt col gen hon mstr master'.split(' '),
);
/** Post-nominal credentials and suffixes. */
export const CREDENTIALS = new Set('md do rn np pa phd dds dmd mba esq jr sr ii iii iv cpa pharmd bsn msn lpn crna od dpm mbbs frcs mrcp'.split(' '));
/** Lowercase particles inside names (van Dijk, da Silva, bin Salman). */
export const PARTICLES = new Set('van von der den de del della di da du dos das le la ter ten bin ibn al el af zu'.split(' '));

/**
 * Words that label a value rather than being one: identifiers' names, form field words,
 * section headers that are not in the English word list. Never a person, place or
 * organization on their own.
 */
export const CONTEXT_WORDS = new Set(
  (
    'ssn ssns itin iban ibans bic swift nhs nino dob mrn npi ein tin vin pan aadhaar pesel bsn cpf curp nric tfn medicare medicaid hetu ppsn sin ' +
    'passport licence license dl id ids acct tel fax mob email e-mail phone ref nr no kyc aml gdpr hipaa pii phi icu er ed gp ent ob gyn hr it ' +
    'ip url uri api sql json csv yaml http https www pdf otp pin cvv cvc mfa sso utc gmt dob/ssn ' +
    'steuer-id steuernummer personalausweis reisepass krankenkasse versichertennummer geburtsdatum anschrift ' +
    'nom prénom prenom adresse né née nacida nacido móvil movil teléfono telefono dirección direccion ' +
    'naam voornaam achternaam geboortedatum adres név cím születési ' +
    // form and column labels in other languages
    'vorname nachname familienname geburtsdatum geburtsort ort stadt plz land telefon ' +
    'ville pays nom prénom naissance ciudad país provincia apellido apellidos nombre ' +
    'stad plaats postcode woonplaats város irányítószám megye vezetéknév keresztnév ' +
    'patient patients dob mrn diagnosis ' +
    // greetings and thanks that open or close messages in other languages
    'ciao grazie mille danke merci gracias hola bonjour hallo hej dank bedankt köszönöm szia obrigado obrigada salut tschüss bitte prego saluti cordiali gruß grüße liebe lieber querido querida ' +
    // salutations that open letters in other languages ("Sehr geehrte Frau …", "Tisztelt …")
    'sehr geehrte geehrter geehrtes liebe lieber hallo estimado estimada estimados estimadas querido querida cher chère chers beste geachte tisztelt kedves gentile gentili egregio caro cara prezado prezada ' +
    // dose units and prescription shorthand
    'mg mcg µg kg ml mmol iu tab tabs caps cap bd bid tds tid qds qid od prn nocte mane po iv sc im sl inh neb ' +
    // abbreviated field labels
    'tél tfno tlf geb gebr nº núm ' +
    // chat shorthand
    'btw fyi asap lol pls plz thx tbh imo imho afaik omg idk brb eta eod eow ooo wfh np ty tia ' +
    // Indian honorifics
    'shri sri smt shrimati kumari'
  ).split(' '),
);

const INTL_LOCALES = ['en', 'de', 'fr', 'es', 'nl', 'hu', 'it', 'pt'];

function intlWords(): { months: Set<string>; foreign: Set<string>; places: Set<string> } {
  const months = new Set<string>();
  const foreign = new Set<string>();
  const places = new Set<string>();
  for (const loc of INTL_LOCALES) {
    try {
      // short forms only in English: elsewhere they are syllables of names (fr "sam", nl "mei")
      for (const style of loc === 'en' ? (['long', 'short'] as const) : (['long'] as const)) {
        const into = loc === 'en' ? months : foreign;
        const mf = new Intl.DateTimeFormat(loc, { month: style, timeZone: 'UTC' });
        const wf = new Intl.DateTimeFormat(loc, { weekday: style, timeZone: 'UTC' });
        for (let m = 0; m < 12; m++) into.add(mf.format(new Date(Date.UTC(2021, m, 15))).toLowerCase().replace(/\.$/, ''));
        for (let d = 0; d < 7; d++) into.add(wf.format(new Date(Date.UTC(2021, 0, 3 + d))).toLowerCase().replace(/\.$/, ''));
      }
    } catch {
      /* a runtime without this locale */
    }
    try {
      const rn = new Intl.DisplayNames([loc], { type: 'region' });
      const ln = new Intl.DisplayNames([loc], { type: 'language' });
      const A = 65;
      for (let a = 0; a < 26; a++) {
        for (let b = 0; b < 26; b++) {
          const code = String.fromCharCode(A + a, A + b);
          const r = rn.of(code);
          if (r && r !== code) places.add(r.toLowerCase());
          const l = ln.of(code.toLowerCase());
          if (l && l.toLowerCase() !== code.toLowerCase()) places.add(l.toLowerCase());
        }
      }
    } catch {
      /* Intl.DisplayNames missing */
    }
  }
  for (const w of ['sept', 'tues', 'thur', 'thurs']) months.add(w);
  for (const w of ['uk', 'usa', 'us', 'u.s', 'u.k', 'eu', 'england', 'scotland', 'wales', 'northern ireland', 'europe', 'asia', 'africa', 'america', 'north america', 'south america', 'latin america', 'middle east']) places.add(w);
  return { months, foreign, places };
}

let intl: { months: Set<string>; foreign: Set<string>; places: Set<string> } | null = null;
/** English month and weekday names, long and short. */
export function isMonthOrDay(w: string): boolean {
  return (intl ??= intlWords()).months.has(w);
}
/** Month and weekday names (long) in German, French, Spanish, Dutch, Hungarian, Italian, Portuguese. */
export function isForeignMonthOrDay(w: string): boolean {
  return (intl ??= intlWords()).foreign.has(w);
}
/** Country, region and language names (lowercase, possibly several words): not personal. */
export function isCountryOrLanguage(s: string): boolean {
  return (intl ??= intlWords()).places.has(s);
}

/**
 * Drug, lab-test and diagnosis shapes: WHO INN stems (-cillin, -statin, -pril, -sartan …) and
 * medical word endings (-itis, -emia, -ectomy …). Names are checked before this is asked.
 */
const MEDICAL_SHAPE =
  /(?:cillin|mycin|micin|cycline|oxacin|statin|pril|prilat|sartan|olol|alol|lactone|traline|arin|ipine|dipine|azole|prazole|tidine|afil|triptan|parin|xaban|gatran|gliptin|gliflozin|glitazone|mab|tinib|ciclib|navir|previr|buvir|lukast|setron|semide|thiazide|zepam|zolam|barbital|caine|profen|coxib|dronate|glutide|lutide|olone|asone|terol|formin|pramine|triptyline|oxetine|faxine|lamine|apine|idone|peridol|azine|plase|poetin|grastim|relin|tropin|onin|globin|inine|ubin|itis|emia|aemia|osis|pnoea|pnea|rrhoea|rrhea|iasis|esis|pathy|ectomy|otomy|ostomy|plasty|scopy|graphy|algia|uria|penia|cytosis|trophy|oma|plegia|sclerosis|ferase|peptide|lipid|lipase|amylase|phosphatase)$/;
export function looksMedical(w: string): boolean {
  return w.length >= 6 && MEDICAL_SHAPE.test(w);
}
