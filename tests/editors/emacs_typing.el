;;; emacs_typing.el --- Emacs 28 + eglot 1.9 with eglot's defaults, used as a person does  -*- lexical-binding: t -*-
;; Run by tests/editors/test_emacs_typing.py:
;;   MODE=<mode> CODEHEARTH=<codehearth> CODEHEARTH_LOG=<server log> README_EL=<file> \
;;   emacs --batch -l emacs_typing.el <file>
;; Every eglot setting keeps its default (the 10 s request timeout, the 3 s synchronous
;; connect, the y-or-n-p before a server-initiated edit, which is answered "y" as a person
;; would).  README_EL holds the README's Emacs chat snippet, loaded as a user's init does.
;; MODE=quickfix  M-x eglot-code-actions on the line of CodeHearth's syntax diagnostic
;;                (flymake-goto-next-error, then the line marked), the fix picked
;;                from the menu (twice, as an impatient user does); the verified edit must
;;                land in the buffer (read back from it), then the file is saved.  Then the
;;                function is marked (C-M-h) and "CodeHearth: Explain" is picked: the
;;                answer must appear in *CodeHearth Chat*.
;; MODE=chat      the function is marked and M-x codehearth-ask (from the README) asks
;;                QUESTION: the answer must appear in *CodeHearth Chat*.
;; MODE=complete  completion-at-point (M-TAB) on line LINE, after its indent; saved.
;; Prints "STEP ..." lines, "CHAT: <buffer text>" and "RESULT: PASS|FAIL ..."; exits 0
;; only when every step worked.
(require 'package)
(package-initialize)                    ; --batch does not activate Debian's elpa packages
(require 'eglot)
(require 'python)
(require 'cl-lib)

(defvar ch-started (float-time))
(defun ch-out (fmt &rest args)
  (princ (format "[%5.1f s] %s\n" (- (float-time) ch-started) (apply #'format fmt args))))

(setq python-indent-guess-indent-offset nil)
(transient-mark-mode 1)                 ; on in an interactive Emacs, off in batch

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
(load (getenv "README_EL") nil t t)

(defun ch-wait (seconds what predicate)
  "Let Emacs run (process output, timers) until PREDICATE holds; error after SECONDS."
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Waited %s s for %s" seconds what))
      (accept-process-output nil 0.05))))

(defun ch-line (n)
  (save-excursion (goto-char (point-min)) (forward-line (1- n))
                  (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

(defun ch-chat-text ()
  (let ((buffer (get-buffer "*CodeHearth Chat*")))
    (if buffer (with-current-buffer buffer (buffer-substring-no-properties (point-min) (point-max))) "")))

(defvar ch-confirmations nil "The y-or-n-p prompts answered, in order.")

(defmacro ch-as-a-person (&rest body)
  "Run BODY answering \"y\" to y-or-n-p (eglot asks before a server's edit; batch
Emacs would read the answer from stdin)."
  `(cl-letf (((symbol-function 'y-or-n-p)
              (lambda (prompt)
                (push prompt ch-confirmations)
                (ch-out "STEP y-or-n-p answered y: %S" prompt)
                t)))
     ,@body))

(defun ch-pick (title-prefix)
  "M-x eglot-code-actions, and pick the first entry whose title starts with TITLE-PREFIX."
  (let ((last-nonmenu-event ?\r)        ; invoked from the keyboard: a minibuffer menu
        (picked nil))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt items &rest _)
                 (ch-out "STEP eglot's menu: %S" (mapcar #'car items))
                 (setq picked (cl-find-if (lambda (title) (string-prefix-p title-prefix title))
                                          (mapcar #'car items)))
                 (or picked (error "no %S in eglot's menu" title-prefix)))))
      (call-interactively #'eglot-code-actions))
    (ch-out "STEP picked %S (eglot-code-actions returned)" picked)))

(defun ch-connect ()
  ;; no VC here: a transient project rooted at the workspace
  (let ((project-find-functions (list (lambda (_dir) (cons 'transient default-directory)))))
    (eglot-ensure)
    ;; eglot-ensure connects from post-command-hook; batch has no command loop: run it
    (run-hooks 'post-command-hook))
  (ch-wait 30 "eglot to manage the buffer" #'eglot-managed-p)
  (ch-out "STEP emacs %s, eglot %s, managed by eglot" emacs-version
          (or (ignore-errors (package-desc-version (cadr (assq 'eglot package-alist)))) "?")))

(defun ch-mark-function (line)
  "C-g, then C-M-h with point on LINE (inside the function's body)."
  (deactivate-mark)
  (goto-char (point-min)) (forward-line (1- line)) (end-of-line)
  (call-interactively #'mark-defun)
  (ch-out "STEP marked lines %d-%d" (line-number-at-pos (region-beginning))
          (line-number-at-pos (region-end))))

(defun ch-quickfix ()
  (let ((expected (getenv "EXPECT")))
    (ch-wait 20 "CodeHearth's syntax diagnostic in flymake"
             (lambda () (flymake-diagnostics (point-min) (point-max))))
    (goto-char (point-min))
    (call-interactively #'flymake-goto-next-error)
    (let ((diagnostic (car (flymake-diagnostics (point-min) (point-max)))))
      (ch-out "STEP flymake-goto-next-error: point %d:%d on %S (%d-%d)"
              (line-number-at-pos) (current-column) (flymake-diagnostic-text diagnostic)
              (flymake-diagnostic-beg diagnostic) (flymake-diagnostic-end diagnostic)))
    ;; eglot 1.9 asks for the actions of the sexp at point, which can miss the
    ;; diagnostic's place: mark the line (C-a C-SPC C-e), as a person then does
    (beginning-of-line) (set-mark (point)) (end-of-line)
    (let ((picked-at (float-time)))
      (ch-as-a-person
       (ch-pick "CodeHearth: fix")
       (ch-pick "CodeHearth: fix")         ; picked again while the first one runs
       (ch-wait 40 (format "%S in the buffer" expected)
                (lambda () (string-match-p (regexp-quote expected) (buffer-string)))))
      (ch-out "STEP the verified edit landed %.1f s after the pick: line 4 is %S"
              (- (float-time) picked-at) (ch-line 4)))
    (save-buffer)
    (ch-mark-function 5)
    (ch-pick "CodeHearth: Explain")
    (ch-wait 40 "the explanation in *CodeHearth Chat*"
             (lambda () (string-match-p (regexp-quote (getenv "ANSWER")) (ch-chat-text))))))

(defun ch-chat ()
  (ch-mark-function 5)
  (cl-letf (((symbol-function 'read-string) (lambda (&rest _) (getenv "QUESTION"))))
    (call-interactively #'codehearth-ask))
  (ch-out "STEP M-x codehearth-ask returned")
  (ch-wait 40 "the answer in *CodeHearth Chat*"
           (lambda () (string-match-p (regexp-quote (getenv "ANSWER")) (ch-chat-text)))))

(defun ch-complete ()
  (goto-char (point-min)) (forward-line (1- (string-to-number (getenv "LINE")))) (end-of-line)
  (let ((before (buffer-string)))
    (completion-at-point)
    (when (equal before (buffer-string)) (error "completion-at-point inserted nothing")))
  (save-buffer)
  (ch-out "STEP saved after completion-at-point:\n%s" (buffer-string)))

(defun ch-main ()
  (find-file (car command-line-args-left))
  (setq command-line-args-left nil)
  (python-mode)
  (ch-connect)
  (pcase (getenv "MODE")
    ("quickfix" (ch-quickfix))
    ("chat" (ch-chat))
    ("complete" (ch-complete))
    (mode (error "unknown MODE %S" mode))))

(let ((ok (condition-case err
              (progn (ch-main) t)
            (error (ch-out "RESULT: FAIL %S" err) nil))))
  (let ((print-escape-newlines t)) (princ (format "CHAT: %S\n" (ch-chat-text))))
  (when (and (eglot-current-server) (getenv "EGLOT_EVENTS"))
    (ignore-errors
      (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
        (write-region nil nil (getenv "EGLOT_EVENTS") nil 'silent))))
  (when (eglot-current-server)
    (ignore-errors (let ((eglot-autoreconnect nil)) (eglot-shutdown (eglot-current-server)))))
  (when ok (ch-out "RESULT: PASS"))
  (kill-emacs (if ok 0 1)))
