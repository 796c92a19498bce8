// A chart's legend, in HTML above the plot rather than in Plotly's SVG: Plotly lays its
// legend out again on every redraw (building and measuring every entry), which cost
// about 15 % of each redraw at 10 series; this one is rebuilt only when the series change.
//
// One button per series, in trace order: the line's colour and the series' name.
// Pressing it hides or shows that line; the chart does the drawing (onToggle).

export class Legend {
  /** Goes just before the chart's element. onToggle(index, shown) is called on a press. */
  constructor(chartElement, onToggle) {
    this.element = document.createElement('ul');
    this.element.className = 'legend';
    this.element.setAttribute('aria-label', 'Series (press to hide or show)');
    this.element.hidden = true;
    this.element.addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button) return;
      const shown = button.getAttribute('aria-pressed') !== 'true';
      button.setAttribute('aria-pressed', String(shown));
      onToggle(Number(button.dataset.index), shown);
    });
    chartElement.before(this.element);
  }

  /** entries: [{ name, shown }] by trace index. colors: the colorway, which Plotly
   *  applies by index (trace i gets colors[i % n]); the swatches follow the same rule. */
  render(entries, colors) {
    // As Plotly's own: no legend for a single line, whose name the hover shows anyway.
    this.element.hidden = entries.length < 2;
    this.element.replaceChildren(...entries.map(({ name, shown }, index) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.index = String(index);
      button.setAttribute('aria-pressed', String(shown));
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.setAttribute('aria-hidden', 'true');
      button.append(swatch, document.createTextNode(name));
      item.append(button);
      return item;
    }));
    this.recolor(colors);
  }

  recolor(colors) {
    if (!colors.length) return;
    for (const swatch of this.element.querySelectorAll('.swatch')) {
      const index = Number(swatch.parentElement.dataset.index);
      swatch.style.background = colors[index % colors.length];
    }
  }

  destroy() {
    this.element.remove();
  }
}
