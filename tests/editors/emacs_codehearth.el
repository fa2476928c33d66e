;;; emacs_codehearth.el --- Emacs 28 + eglot (Debian elpa-eglot 1.9) against `codehearth serve'  -*- lexical-binding: t -*-
;; Run by tests/editors/test_real_editors.py:
;;   CODEHEARTH=<path to codehearth> CODEHEARTH_LOG=<server log> \
;;   emacs --batch -l emacs_codehearth.el calc.py
;; Round trip 1: `completion-at-point' on the blank line of a function body inserts
;;   CodeHearth's completion item (eglot 1.9 has no inline completion); the file is saved.
;; Round trip 2: a linter's diagnostic reaches eglot (as textDocument/publishDiagnostics),
;;   `eglot-code-actions' sends it in context.diagnostics, the CodeHearth quick fix is
;;   executed as eglot's menu does: eglot 1.9 has no codeAction/resolve, so CodeHearth's
;;   stub carries the command `codehearth.applyAction', which the server answers at once;
;;   it runs the fix and sends workspace/applyEdit, which eglot applies; once the edit
;;   shows in the buffer the file is saved.
;; Prints "STEP ..." lines; exits 0 only when every step worked.
(require 'package)
(package-initialize)                    ; --batch does not activate Debian's elpa packages
(require 'eglot)
(require 'python)
(require 'cl-lib)

(defun ch-out (fmt &rest args) (princ (concat (apply #'format fmt args) "\n")))

(setq eglot-sync-connect 20 eglot-connect-timeout 30
      eglot-autoshutdown t
      ;; server-initiated edits (workspace/applyEdit) would ask y-or-n-p, which in batch
      ;; reads stdin: accept them as a user answering "y" would
      eglot-confirm-server-initiated-edits nil
      python-indent-guess-indent-offset nil)

;; The README's configuration, verbatim, with the venv's executable and a log file
;; (the README says "codehearth" on PATH).
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode js-mode typescript-ts-mode go-mode rust-mode)
                 . ("codehearth" "serve"))))
(setcdr (assoc '(python-mode python-ts-mode js-mode typescript-ts-mode go-mode rust-mode)
               eglot-server-programs)
        (list (getenv "CODEHEARTH") "serve"
              "--log-file" (getenv "CODEHEARTH_LOG") "--log-level" "DEBUG"))

(defun ch-line (n)
  (save-excursion (goto-char (point-min)) (forward-line (1- n))
                  (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

(defun ch-main ()
  (find-file (car command-line-args-left))
  (setq command-line-args-left nil)
  (python-mode)
  (ch-out "STEP emacs %s, eglot %s" emacs-version
          (or (ignore-errors (package-desc-version (cadr (assq 'eglot package-alist)))) "?"))
  ;; no VC here: a transient project rooted at the workspace (eglot-ensure would ask
  ;; project.el, which finds none outside a repository)
  (let ((project-find-functions (list (lambda (_dir) (cons 'transient default-directory)))))
    (eglot-ensure)
    ;; eglot-ensure connects from post-command-hook; batch has no command loop: run it
    (run-hooks 'post-command-hook))
  (unless (eglot-managed-p) (error "eglot is not managing %s" buffer-file-name))
  (ch-out "STEP managed by eglot, server capabilities include completion: %s"
          (eglot--server-capable :completionProvider))

  ;; 1) completion-at-point at line 6 after the indent
  (goto-char (point-min)) (forward-line 5) (end-of-line)
  (ch-out "STEP capf candidates: %S"
          (let ((capf (eglot-completion-at-point)))
            (and capf (all-completions "" (nth 2 capf)))))
  (completion-at-point)                 ; a single candidate is inserted directly
  (save-buffer)
  (ch-out "STEP line 6 after completion-at-point: %S" (ch-line 6))
  (unless (string-match-p "return a \\+ b" (ch-line 6))
    (error "completion was not inserted"))

  ;; 2) the quick fix.  The diagnostic comes from a linter (ruff's F401) through
  ;; eglot's own publishDiagnostics handler, so it is a flymake diagnostic eglot owns.
  (eglot--signal-textDocument/didChange)
  (let* ((server (eglot-current-server))
         (uri (eglot--path-to-uri buffer-file-name)))
    (eglot-handle-notification
     server 'textDocument/publishDiagnostics :uri uri
     :diagnostics (vector (list :range (list :start '(:line 0 :character 7)
                                             :end '(:line 0 :character 9))
                                :severity 1 :code "F401" :source "ruff"
                                :message "`os` imported but unused")))
    (flymake-start)
    (with-timeout (5 (ch-out "STEP flymake did not report the diagnostic"))
      (while (null (flymake-diagnostics (point-min) (point-max)))
        (accept-process-output nil 0.05)))
    (ch-out "STEP flymake diagnostics: %S"
            (mapcar #'flymake-diagnostic-text (flymake-diagnostics (point-min) (point-max))))
    ;; M-x eglot-code-actions with point on `os' (the diagnostic's place); the menu is
    ;; answered as a user would: pick the CodeHearth fix.  (eglot 1.9's
    ;; `eglot-code-action-quickfix' re-filters kinds with `equal' "quickfix", so it never
    ;; lists CodeHearth's "quickfix.codehearth" actions: use `eglot-code-actions'.)
    (goto-char (point-min)) (forward-char 8)
    (let ((actions (eglot-code-actions (point) nil)))
      (ch-out "STEP code actions: %S"
              (mapcar (lambda (a) (list (plist-get a :title) (plist-get a :kind)
                                        :command (plist-get (plist-get a :command) :command)))
                      actions))
      (unless (cl-find "quickfix.codehearth" actions
                       :key (lambda (a) (plist-get a :kind)) :test #'equal)
        (error "no CodeHearth quick fix offered")))
    (let ((last-nonmenu-event ?\r)       ; invoked from the keyboard: a minibuffer menu
          (picked nil))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt items &rest _)
                   (setq picked (cl-find-if (lambda (title) (string-prefix-p "CodeHearth: fix" title))
                                            (mapcar #'car items))))))
        (eglot-code-actions (point) nil nil t))
      (ch-out "STEP picked from eglot's menu: %S" picked)))
  ;; the server answers the command at once and sends the verified edit when it is
  ;; ready (workspace/applyEdit): wait for it to show in the buffer, as a person does
  (with-timeout (20 (ch-out "STEP no edit within 20 s"))
    (while (string-match-p "import os" (buffer-string))
      (accept-process-output nil 0.05)))
  (save-buffer)
  (ch-out "STEP line 1 after quick fix: %S" (ch-line 1))
  (when (string-match-p "import os" (buffer-string))
    (error "the quick fix was not applied")))

(let ((ok (condition-case err
              (progn (ch-main) t)
            (error (ch-out "RESULT: FAIL %S" err) nil))))
  ;; eglot's JSON-RPC transcript, the evidence for a failure
  (when (and (eglot-current-server) (getenv "EGLOT_EVENTS"))
    (ignore-errors
      (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
        (write-region nil nil (getenv "EGLOT_EVENTS") nil 'silent))))
  (when (eglot-current-server)
    (ignore-errors (let ((eglot-autoreconnect nil)) (eglot-shutdown (eglot-current-server)))))
  (when ok (ch-out "RESULT: PASS"))
  (kill-emacs (if ok 0 1)))
