/**
 * What every section of the panel is made of: a section widget that re-renders with the store, rows that can
 * be reached and used from the keyboard, and buttons named by their action and target.
 *
 * Keyboard, on a focused row: ↑/↓ move between rows, Enter opens it (its first action), Delete deletes it
 * where that means something, the context-menu key or Shift+F10 opens its context menu (the browser's own).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { NndeployStore, StorePart } from '../model/store';

/** An accordion section of the panel, drawn from the store again whenever the parts it shows change (once per
 * frame at most). */
export abstract class StoreSection extends ReactWidget {
  constructor(
    readonly store: NndeployStore,
    title: string,
    parts: readonly StorePart[]
  ) {
    super();
    this.title.label = title;
    this.addClass('jp-NndeployPanel-section');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', title);
    this._unwatch = store.watch(parts, () => this.update());
  }

  dispose(): void {
    this._unwatch();
    window.clearTimeout(this._deferred);
    super.dispose();
  }

  /** A hidden section (the panel closed, or the section collapsed) does not redraw on every change of the
   * store: it draws once, when it is shown again. */
  protected onUpdateRequest(msg: Message): void {
    if (!this.isVisible) {
      this._stale = true;
      return;
    }
    if (this._deferred) {
      return; // a redraw is on its way
    }
    const wait = this._floodWait();
    if (wait > 0) {
      this._deferred = window.setTimeout(() => {
        this._deferred = 0;
        this.update();
      }, wait);
      return;
    }
    this._stale = false;
    this._drawn.push(performance.now());
    super.onUpdateRequest(msg);
  }

  /** How long the next redraw waits: 0, unless the last ones came in a flood (see FLOOD_INTERVAL). */
  private _floodWait(): number {
    const now = performance.now();
    this._drawn = this._drawn.filter(t => now - t < FLOOD_INTERVAL * FLOOD_DRAWS);
    const last = this._drawn[this._drawn.length - 1] ?? -Infinity;
    return this._drawn.length >= FLOOD_DRAWS ? last + FLOOD_INTERVAL - now : 0;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stale) {
      this.update();
    }
  }

  private readonly _unwatch: () => void;
  private _stale = true;
  private _drawn: number[] = [];
  private _deferred = 0;
}

/**
 * A section redraws once per animation frame at most, and, while changes keep coming (a batch at the server's
 * full rate, 60 tasks/s), once per FLOOD_INTERVAL ms: rows that move at that pace cannot be read anyway, and
 * every redraw costs the page a full style, layout and paint (about 20 ms here), which left a click waiting.
 * A lone task's QUEUED, RUNNING and SUCCEEDED are still each drawn as they come: only FLOOD_DRAWS redraws
 * within FLOOD_DRAWS × FLOOD_INTERVAL ms count as a flood.
 */
const FLOOD_INTERVAL = 100;
const FLOOD_DRAWS = 4;

export interface IAction {
  /** What it does, said with its target: `Run Image_Edge_Detection`. */
  label: string;
  icon: LabIcon;
  onClick: () => void;
  disabled?: boolean;
}

export function ActionButton({ action }: { action: IAction }): JSX.Element {
  return (
    <button
      type="button"
      className="jp-NndeployPanel-action jp-Button jp-mod-minimal"
      aria-label={action.label}
      title={action.label}
      disabled={action.disabled}
      onClick={event => {
        event.stopPropagation();
        action.onClick();
      }}
    >
      <Glyph icon={action.icon} />
    </button>
  );
}

/**
 * A monochrome LabIcon drawn by CSS: its SVG is the mask of a box painted in the icon colour. LabIcon's own
 * React component parses the SVG text again for every copy, and a page of 100 rows with four buttons each
 * made 800 parses, the biggest part of opening the panel; this costs one stylesheet rule per icon.
 */
export function Glyph({ icon }: { icon: LabIcon }): JSX.Element {
  return <span className={`jp-NndeployGlyph ${glyphClass(icon)}`} aria-hidden="true" />;
}

const glyphClasses = new Map<string, string>();
let glyphSheet: CSSStyleSheet | null = null;

function glyphClass(icon: LabIcon): string {
  let name = glyphClasses.get(icon.name);
  if (!name) {
    name = `jp-NndeployGlyph-${glyphClasses.size}`;
    glyphSheet ??= document.head.appendChild(document.createElement('style')).sheet!;
    const url = `url("data:image/svg+xml,${encodeURIComponent(icon.svgstr)}")`;
    glyphSheet.insertRule(`.${name} { -webkit-mask-image: ${url}; mask-image: ${url}; }`);
    glyphClasses.set(icon.name, name);
  }
  return name;
}

export interface IRowProps {
  /** `workflow`, `template`, `task`, `file`: context menus and commands find the row by it. */
  kind: string;
  id: string;
  label: string;
  detail?: React.ReactNode;
  icon?: React.ReactNode;
  actions?: IAction[];
  /** Enter, or a double-click. */
  onOpen?: () => void;
  /** The Delete key. */
  onDelete?: () => void;
  className?: string;
  children?: React.ReactNode;
  expanded?: boolean;
  draggable?: boolean;
  onDragStart?: (event: React.DragEvent) => void;
  dropProps?: React.HTMLAttributes<HTMLLIElement>;
  level?: number;
}

export function Row(props: IRowProps): JSX.Element {
  const onKeyDown = (event: React.KeyboardEvent<HTMLLIElement>): void => {
    if (event.target !== event.currentTarget) {
      return; // a key on one of its buttons is the button's
    }
    if (event.key === 'Enter' && props.onOpen) {
      props.onOpen();
    } else if (event.key === 'Delete' && props.onDelete) {
      props.onDelete();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      moveFocus(event.currentTarget, event.key === 'ArrowDown' ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  };
  return (
    <li
      className={`jp-NndeployPanel-row ${props.className ?? ''}`}
      data-kind={props.kind}
      data-id={props.id}
      tabIndex={0}
      aria-label={props.label}
      aria-expanded={props.expanded}
      aria-level={props.level}
      onKeyDown={onKeyDown}
      onDoubleClick={props.onOpen}
      draggable={props.draggable}
      onDragStart={props.onDragStart}
      {...props.dropProps}
    >
      <div className="jp-NndeployPanel-rowMain">
        {props.icon}
        <div className="jp-NndeployPanel-text" title={props.label}>
          <span className="jp-NndeployPanel-name">{props.label}</span>
          {props.detail ? <span className="jp-NndeployPanel-detail">{props.detail}</span> : null}
        </div>
        <div className="jp-NndeployPanel-actions">
          {(props.actions ?? []).map(action => (
            <ActionButton key={action.label} action={action} />
          ))}
        </div>
      </div>
      {props.children}
    </li>
  );
}

/** How many rows a list draws at first, and how many more each time its end scrolls into view (at once, when
 * its section is taller than that): more than a section shows with the four open. */
const ROWS_PER_PAGE = 30;

/**
 * A list that draws its rows a page at a time: a thousand workflows or history rows cost the first thirty
 * until the user scrolls (or clicks "Show more"), so opening the panel and every redraw during a burst stay
 * cheap. The rows drawn stay drawn.
 */
export function List<T>(props: {
  label: string;
  empty: string;
  items: readonly T[];
  /** Draws one item's row (keyed); called only for the rows drawn. */
  row: (item: T) => React.ReactNode;
  dropProps?: React.HTMLAttributes<HTMLUListElement>;
}): JSX.Element {
  const [shown, setShown] = React.useState(ROWS_PER_PAGE);
  const showMore = React.useCallback(() => setShown(n => n + ROWS_PER_PAGE), []); // one observer per "Show more"
  const rest = props.items.length - shown;
  return (
    <ul className="jp-NndeployPanel-list" aria-label={props.label} {...props.dropProps}>
      {props.items.length ? props.items.slice(0, shown).map(props.row) : <li className="jp-NndeployPanel-empty">{props.empty}</li>}
      {rest > 0 ? <ShowMore label={props.label} rest={rest} onShow={showMore} /> : null}
    </ul>
  );
}

function ShowMore(props: { label: string; rest: number; onShow: () => void }): JSX.Element {
  const host = React.useRef<HTMLLIElement>(null);
  const { onShow } = props;
  React.useEffect(() => {
    const observer = new IntersectionObserver(entries => entries.some(e => e.isIntersecting) && onShow());
    observer.observe(host.current!);
    return () => observer.disconnect();
  }, [onShow]);
  const next = Math.min(ROWS_PER_PAGE, props.rest);
  return (
    <li className="jp-NndeployPanel-more" ref={host}>
      <button type="button" className="jp-Button jp-mod-minimal" aria-label={`Show ${next} more of ${props.rest} in ${props.label}`} onClick={onShow}>
        Show {next} more ({props.rest} not shown)
      </button>
    </li>
  );
}

/** A heading inside a section (`Queue`, `History`, a template category). */
export function Group(props: { label: string; count?: number; children: React.ReactNode }): JSX.Element {
  return (
    <div className="jp-NndeployPanel-group" role="group" aria-label={props.label}>
      <h3 className="jp-NndeployPanel-groupTitle">
        {props.label}
        {props.count !== undefined ? <span className="jp-NndeployPanel-count">{props.count}</span> : null}
      </h3>
      {props.children}
    </div>
  );
}

/** The row's context menu, opened from its "more" button (the same menu a right-click opens). */
export function openRowMenu(id: string): void {
  const button = document.activeElement as HTMLElement | null;
  const row = button?.closest<HTMLElement>('.jp-NndeployPanel-row') ?? document.querySelector<HTMLElement>(`.jp-NndeployPanel-row[data-id="${CSS.escape(id)}"]`);
  if (!row) {
    return;
  }
  const box = (button ?? row).getBoundingClientRect();
  row.dispatchEvent(new MouseEvent('contextmenu', { bubbles: true, cancelable: true, clientX: box.left, clientY: box.bottom }));
}

function moveFocus(row: HTMLElement, step: 1 | -1): void {
  const panel = row.closest('.jp-NndeployPanel-section');
  const rows = Array.from(panel?.querySelectorAll<HTMLElement>('.jp-NndeployPanel-row') ?? []);
  rows[rows.indexOf(row) + step]?.focus();
}
