// What the tests read of the doctor's page, run inside the page by either browser's driver
// (Chromium: as a function; Firefox: as its source text). Self-contained on purpose.
export function pageState() {
  const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
  return {
    state: document.body?.dataset.state ?? null,
    patient: text('patient-name'),
    status: text('status'),
    duration: text('duration'),
    quality: document.getElementById('quality')?.dataset.level ?? null,
    url: location.href,
  };
}
