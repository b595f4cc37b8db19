// Allure 3 report configuration: the normal multi-file report (served over HTTP) and a single HTML file
// (opens from file://, for sharing), both with history kept across runs under reports/.
export default {
  name: "Databricks App acceptance",
  output: "reports/allure-report",
  historyPath: "reports/history/history.jsonl",
  plugins: {
    awesome: {
      options: {
        reportName: "Databricks App acceptance",
        singleFile: false,
        reportLanguage: "en",
        groupBy: ["epic", "feature", "story"],
      },
    },
  },
};
