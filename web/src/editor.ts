// The code editor (CodeMirror 6) shared by the playground and the workspace
// file editor: syntax highlighting for the twelve languages, history,
// bracket matching, search, and the console's shortcuts. Tab indents; Escape
// then Tab moves focus out (CodeMirror's documented escape from the editor).

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import {
  EditorView,
  type KeyBinding,
  crosshairCursor,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";
import { modeFor } from "./languages";

export interface EditorOptions {
  doc: string;
  language: string | null;
  label: string;
  /** Ctrl/Cmd-Enter. */
  onRun?: () => void;
  /** Ctrl/Cmd-Shift-Enter. */
  onSubmit?: () => void;
  /** Ctrl/Cmd-S. */
  onSave?: () => void;
  onChange?: (doc: string) => void;
}

export interface Editor {
  view: EditorView;
  getDoc(): string;
  setDoc(doc: string): void;
  setLanguage(language: string | null): void;
  focus(): void;
  destroy(): void;
}

const theme = EditorView.theme({
  "&": { fontSize: "14px", height: "100%" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
  ".cm-content": { minHeight: "12em" },
  "&.cm-focused": { outline: "none" },
});

export function createEditor(parent: HTMLElement, opts: EditorOptions): Editor {
  const language = new Compartment();
  const shortcuts: KeyBinding[] = [];
  const bind = (key: string, fn?: () => void) => {
    if (fn)
      shortcuts.push({
        key,
        run: () => {
          fn();
          return true;
        },
        preventDefault: true,
      });
  };
  bind("Mod-Enter", opts.onRun);
  bind("Mod-Shift-Enter", opts.onSubmit);
  bind("Mod-s", opts.onSave);
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: opts.doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        EditorState.allowMultipleSelections.of(true),
        indentOnInput(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        bracketMatching(),
        closeBrackets(),
        rectangularSelection(),
        crosshairCursor(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        Prec.highest(keymap.of(shortcuts)),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, indentWithTab]),
        language.of([]),
        EditorView.contentAttributes.of({ "aria-label": opts.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange?.(u.state.doc.toString());
        }),
        theme,
      ],
    }),
  });
  // Modes load on demand; the last one asked for wins.
  let wanted: string | null = null;
  const setLanguage = (lang: string | null) => {
    wanted = lang;
    void (lang ? modeFor(lang) : Promise.resolve([])).then((ext) => {
      if (wanted === lang && !destroyed) view.dispatch({ effects: language.reconfigure(ext) });
    });
  };
  let destroyed = false;
  setLanguage(opts.language);
  return {
    view,
    getDoc: () => view.state.doc.toString(),
    setDoc: (doc) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } }),
    setLanguage,
    focus: () => view.focus(),
    destroy: () => {
      destroyed = true;
      view.destroy();
    },
  };
}
