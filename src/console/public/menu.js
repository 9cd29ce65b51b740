// The ellipsis (…) menu of a row: a menu button as the WAI-ARIA practices describe it.
// Arrow keys move, Home/End jump, Escape closes and gives focus back to the button.
// Actions the key may not run stay in the menu, marked aria-disabled, with the reason beside them.
import { h } from './format.js';

let openMenu = null;
let nextId = 0;

document.addEventListener('pointerdown', (event) => {
  if (openMenu && !openMenu.root.contains(event.target)) openMenu.close(false);
});

/**
 * items: [{ action, label, disabledReason }]; onSelect(action) runs for enabled items.
 * Returns the element to put in the row.
 */
export function createMenu({ label, items, onSelect }) {
  const id = `menu-${++nextId}`;
  const button = h('button', {
    type: 'button',
    class: 'menu-button',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-controls': id,
    'aria-label': label,
    title: label,
    text: '…',
  });
  const list = h('ul', { class: 'menu', role: 'menu', id, 'aria-label': label, hidden: true });
  const entries = items.map((item) => {
    const reasonId = item.disabledReason ? `${id}-${item.action}-why` : null;
    const entry = h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: 'menu-item',
        dataset: { action: item.action },
        'aria-disabled': item.disabledReason ? 'true' : false,
        'aria-describedby': reasonId,
      },
      h('span', { class: 'menu-label', text: item.label }),
      item.disabledReason ? h('span', { class: 'menu-reason', id: reasonId, text: item.disabledReason }) : null,
    );
    entry.addEventListener('click', () => {
      if (item.disabledReason) return;
      close(false);
      onSelect(item.action);
    });
    list.append(h('li', { role: 'none' }, entry));
    return entry;
  });
  const root = h('div', { class: 'menu-wrap' }, button, list);
  const handle = { root, close };

  function open(focusIndex = 0) {
    if (openMenu && openMenu !== handle) openMenu.close(false);
    list.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    openMenu = handle;
    entries.at(focusIndex)?.focus();
  }

  function close(returnFocus = true) {
    list.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (openMenu === handle) openMenu = null;
    if (returnFocus) button.focus();
  }

  button.addEventListener('click', () => (list.hidden ? open(0) : close(false)));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      open(0);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      open(-1);
    }
  });
  list.addEventListener('keydown', (event) => {
    const index = entries.indexOf(document.activeElement);
    const move = (to) => {
      event.preventDefault();
      entries[(to + entries.length) % entries.length].focus();
    };
    if (event.key === 'ArrowDown') move(index + 1);
    else if (event.key === 'ArrowUp') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(entries.length - 1);
    else if (event.key === 'Escape') {
      event.preventDefault();
      close(true);
    } else if (event.key === 'Tab') close(false);
  });
  return root;
}

export function closeOpenMenu() {
  openMenu?.close(false);
}
