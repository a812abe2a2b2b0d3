;;; greenc-mode.el --- Major mode for greenc configuration files  -*- lexical-binding: t; -*-

;; Keywords: languages, tools
;; Package-Requires: ((emacs "25.1"))

;; This file is part of greenc and is distributed under the same terms.

;;; Commentary:

;; Editing support for greenc.conf, the nginx-style configuration of the
;; greenc server: highlighting of comments, strings, $variables, block
;; keywords and directive names, and indentation by the depth of braces.
;;
;; Install: copy this file into a directory on `load-path' and add
;;
;;     (require 'greenc-mode)
;;
;; to your init file.  Files named greenc.conf (also greenc.conf.default)
;; and *.greenc then open in `greenc-mode'.
;;
;; The directive list is what `greenc -L' prints;
;; tests/integration/test_contrib.py fails when the two differ.

;;; Code:

(defgroup greenc nil
  "Editing greenc configuration files."
  :group 'languages
  :prefix "greenc-")

(defcustom greenc-indent-level 4
  "Columns of indentation for each level of braces."
  :type 'integer
  :safe #'integerp)

(defconst greenc-block-keywords
  '("app" "http" "location" "server" "types")
  "Directives that open a block.")

(defconst greenc-directives
  '("access_log" "add_request_id_header" "alias" "allow" "allow_root_workers"
    "app" "chdir" "client_body_buffer_size" "client_body_temp_path"
    "client_body_timeout"
    "client_header_buffer_size" "client_header_timeout" "client_max_body_size"
    "daemon" "default_type" "deny" "disable_symlinks" "env" "error_log"
    "graceful_timeout" "home" "http" "index" "keepalive_requests"
    "keepalive_timeout" "large_client_header_buffers" "limit_as"
    "limit_nofile" "limit_request_fields" "listen" "location" "log_format"
    "max_requests" "pass" "pid" "python_path" "real_ip_header"
    "real_ip_recursive" "request_buffering" "request_id_header" "return"
    "root" "router_workers" "script_name" "send_timeout" "server"
    "server_name" "server_tokens" "set_real_ip_from" "ssl_certificate"
    "ssl_certificate_key" "ssl_ciphers" "ssl_client_certificate"
    "ssl_conf_command" "ssl_ktls" "ssl_password_file"
    "ssl_prefer_server_ciphers" "ssl_protocols" "ssl_session_cache"
    "ssl_session_tickets" "ssl_session_timeout" "ssl_verify_client"
    "ssl_verify_depth" "status" "tcp_nodelay" "threads" "timeout" "try_files" "types"
    "user" "worker_connections" "workers" "wsgi")
  "Every directive greenc knows, as `greenc -L' lists them.")

(defconst greenc--statement-start "\\(?:^\\|[{};]\\)[ \t]*"
  "Where a directive name may stand: at the start of a line or after { } ;.")

(defconst greenc-font-lock-keywords
  `(;; The name of an app block: "app blog {".
    ("\\_<app[ \t]+\\([A-Za-z0-9_.-]+\\)" 1 font-lock-function-name-face)
    ;; "pass blog;" names an app too.
    ("\\_<pass[ \t]+\\([A-Za-z0-9_.-]+\\)" 1 font-lock-function-name-face)
    ;; A location's match operator: = ~ ~* ^~ and a named location @name.
    ("\\_<location[ \t]+\\(=\\|~\\*?\\|\\^~\\|@[A-Za-z0-9_-]+\\)[ \t]"
     1 font-lock-type-face)
    (,(concat greenc--statement-start
              "\\(" (regexp-opt greenc-block-keywords 'symbols) "\\)")
     1 font-lock-keyword-face)
    (,(concat greenc--statement-start "\\(\\_<include\\_>\\)")
     1 font-lock-preprocessor-face)
    (,(concat greenc--statement-start
              "\\(" (regexp-opt greenc-directives 'symbols) "\\)")
     1 font-lock-builtin-face)
    ;; $name and ${name}, also inside strings (log_format, return).
    ("\\$\\(?:[A-Za-z_][A-Za-z0-9_]*\\|{[A-Za-z_][A-Za-z0-9_]*}\\)"
     0 font-lock-variable-name-face t)
    (,(regexp-opt '("on" "off" "auto") 'symbols) . font-lock-constant-face))
  "What `greenc-mode' highlights beyond comments and strings.")

(defvar greenc-mode-syntax-table
  (let ((table (make-syntax-table)))
    (modify-syntax-entry ?# "<" table)
    (modify-syntax-entry ?\n ">" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?' "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    (modify-syntax-entry ?_ "_" table)
    (modify-syntax-entry ?- "_" table)
    (modify-syntax-entry ?. "_" table)
    (modify-syntax-entry ?/ "_" table)
    (modify-syntax-entry ?$ "'" table)
    (modify-syntax-entry ?{ "(}" table)
    (modify-syntax-entry ?} "){" table)
    table)
  "Syntax table of `greenc-mode': # comments, single and double quotes.")

(defun greenc--continuation-p ()
  "Non-nil if the statement before this line is not finished.
That is, the previous line of code ends with neither ; nor { nor }."
  (save-excursion
    (beginning-of-line)
    (forward-comment (- (point)))
    (not (or (bobp) (memq (char-before) '(?\; ?{ ?}))))))

(defun greenc-indent-line ()
  "Indent the current line by the depth of braces around it.
A line that starts with } goes one level out; the second and later
lines of a statement that spans lines go one level in."
  (interactive)
  (let ((ppss (save-excursion (syntax-ppss (line-beginning-position)))))
    ;; Inside a string that spans lines, the text is the user's.
    (unless (nth 3 ppss)
      (let* ((offset (- (current-column) (current-indentation)))
             (depth (save-excursion
                      (back-to-indentation)
                      (let ((d (car (syntax-ppss))))
                        (if (eq (char-after) ?\}) (1- d) d))))
             (extra (if (save-excursion
                          (back-to-indentation)
                          (and (not (memq (char-after) '(?\} ?#)))
                               (greenc--continuation-p)))
                        1 0)))
        (indent-line-to (* greenc-indent-level (+ (max depth 0) extra)))
        (when (> offset 0)
          (forward-char offset))))))

;;;###autoload
(define-derived-mode greenc-mode prog-mode "greenc"
  "Major mode for greenc configuration files (greenc.conf).

\\{greenc-mode-map}"
  :syntax-table greenc-mode-syntax-table
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+[ \t]*")
  (setq-local comment-end "")
  (setq-local font-lock-defaults '(greenc-font-lock-keywords))
  (setq-local indent-line-function #'greenc-indent-line)
  (setq-local indent-tabs-mode nil)
  (setq-local electric-indent-chars (cons ?} electric-indent-chars))
  (setq-local imenu-generic-expression
              '(("Apps" "^[ \t]*app[ \t]+\\([A-Za-z0-9_.-]+\\)" 1)
                ("Locations" "^[ \t]*location[ \t]+\\([^{\n]+?\\)[ \t]*{" 1))))

;;;###autoload
(add-to-list 'auto-mode-alist '("/greenc\\.conf\\(?:\\.default\\)?\\'" . greenc-mode))
;;;###autoload
(add-to-list 'auto-mode-alist '("\\.greenc\\'" . greenc-mode))

(provide 'greenc-mode)

;;; greenc-mode.el ends here
