// ESLint for the storefront (web/js, browser ES modules) and its unit tests (tests/js, node).
// `make lint` runs it; see web/README.md.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", ".aws-sam/", "test-output/"] },
  js.configs.recommended,
  {
    files: ["web/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
    rules: {
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      // The DOM prints null children as the word "null"; fill() from dom.js leaves them out.
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.property.name='replaceChildren'][arguments.length>0]",
          message: "Use fill(el, ...children) from dom.js: replaceChildren shows null as the text \"null\".",
        },
      ],
      // Text goes into the page as text nodes (dom.js h()); markup from strings is how XSS gets in.
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build nodes with h() from dom.js." },
        { property: "outerHTML", message: "Build nodes with h() from dom.js." },
        { property: "insertAdjacentHTML", message: "Build nodes with h() from dom.js." },
      ],
    },
  },
  {
    files: ["web/config.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
  {
    // The unit tests run in node with the browser globals dom-env.js installs.
    files: ["tests/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node, ...globals.browser } },
  },
];
