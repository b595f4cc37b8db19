// Allure 3 report configuration: the normal multi-file report (served over HTTP) and a single HTML file
// (opens from file://, for sharing), both with history kept across runs under reports/history/.
// Built by `bash scripts/report.sh` (or `npm run report`): reports/allure-report/{awesome,single}/index.html.
const common = {
  reportName: "Databricks App acceptance",
  reportLanguage: "en",
  // Behaviours: user story (epic) > capability (feature) > rule or requirement IDs (story).
  groupBy: ["epic", "feature", "story"],
};

export default {
  name: "Databricks App acceptance",
  output: "reports/allure-report",
  historyPath: "reports/history/history.jsonl",
  historyLimit: 50,
  plugins: {
    awesome: { options: { ...common, singleFile: false } },
    single: { import: "@allurereport/plugin-awesome", options: { ...common, singleFile: true } },
  },
};
