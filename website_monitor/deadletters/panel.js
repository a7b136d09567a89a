// The store: schema version and dead letters (updated live).

export default function mount(element, ctx) {
  const card = document.createElement("div");
  card.className = "card";
  card.innerHTML = `<table><tbody>
    <tr><th>backend</th><td data-field="backend"></td></tr>
    <tr><th>schema</th><td data-field="schema"></td></tr>
    <tr><th>probe results stored</th><td data-field="probes" class="num"></td></tr>
    <tr><th>dead letters</th><td data-field="dead_letters" class="num"></td></tr>
  </tbody></table>`;
  element.append(card);
  const field = (name) => card.querySelector(`[data-field="${name}"]`);
  let probes = 0;
  let deadLetters = 0;

  function show() {
    field("probes").textContent = probes;
    const dl = field("dead_letters");
    dl.textContent = deadLetters;
    dl.className = "num " + (deadLetters ? "bad" : "");
    dl.title = deadLetters ? "see `wm dlq list`" : "";
  }

  return {
    async refresh() {
      const store = await ctx.api("/api/store");
      field("backend").textContent = store.schema.backend;
      field("schema").textContent =
        `version ${store.schema.current}` + (store.schema.pending ? ` (${store.schema.pending} pending)` : "");
      probes = store.probes;
      deadLetters = store.dead_letters;
      show();
    },
    on: {
      probe() { probes += 1; show(); },
      dead_letter() { deadLetters += 1; show(); },
    },
  };
}
