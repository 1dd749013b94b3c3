// Filters the index's model table as the reader types: every word must appear in the row's
// data-search text (name, task, description, owners, tags). Without script every row stays visible.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const input = document.getElementById('model-search');
  const table = document.getElementById('models');
  const status = document.getElementById('search-status');
  const none = document.getElementById('no-match');
  if (!input || !table || !status) return;
  const rows = Array.from(table.tBodies[0].rows);
  const apply = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.search || '';
      const match = words.every((w) => text.includes(w));
      row.hidden = !match;
      if (match) shown++;
    }
    status.textContent = words.length ? `${shown} of ${rows.length} model(s) match` : `${rows.length} model(s)`;
    if (none) none.hidden = shown > 0;
  };
  input.addEventListener('input', apply);
  const q = new URLSearchParams(location.search).get('q');
  if (q) {
    input.value = q;
    apply();
  }
});
