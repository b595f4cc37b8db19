@US8
Feature: Model lifecycle
  As the data scientist who owns the churn model
  I want every training tracked, every model registered with the code that made it, and only better
  models promoted
  So that the model answering customers is always the best one we have, traceable to its code

  Background:
    Given churn data prepared from 2000 synthetic customers with seed 7

  Rule: Training records what was done and how well it did

    @US8_2 @critical
    Scenario: Training the churn model records its params, metrics and artifacts
      When the churn model is trained with regularization 0.5
      Then the training run records the regularization 0.5 and all 9 features
      And the training run records a ROC AUC above 0.75 and an accuracy above 0.7
      And the training run holds a confusion matrix plot and the training data profile of every feature
      And the training run holds a logged model with a signature, an input example and pinned requirements

    @US8_2 @critical
    Scenario: The custom model answers with a label, a churn probability and its version
      Given the churn model trained on all features is registered
      When version 1 of the churn model scores 20 test customers
      Then every answer has a label, a churn probability between 0 and 1 and the model version "1"
      And the answers agree with the basic model the custom model wraps

  Rule: Every registration is a new version, traceable to its code

    @US8_3 @critical
    Scenario: Registering twice makes two increasing versions tagged with the code's commit
      When the churn model is trained and registered 2 times
      Then the registry lists versions 1 and 2 of the churn model, each pointing at the training run that produced it
      And each version is tagged with the git commit and branch of this code

    @US8_3 @normal
    Scenario: Code outside a git checkout is tagged "unknown"
      When the churn model trained on all features is registered from a copy of the code outside git
      Then version 1 is tagged with git commit "unknown" and git branch "unknown"

  Rule: A new version is the challenger; it becomes champion only if it beats the champion

    @US8_4 @blocker
    Scenario: The first version becomes champion
      When the churn model trained on all features is registered and promoted
      Then version 1 is the champion
      And version 1 is the challenger
      And version 1 records the decision "first champion" on ROC AUC

    @US8_4 @blocker
    Scenario: A better challenger replaces the champion
      Given the churn model trained only on the customers' region is the champion
      When the churn model trained on all features is registered and promoted
      Then version 2 is the champion
      And version 2 is the challenger
      And version 2 records the decision "promoted" on ROC AUC, beating version 1

    @US8_4 @critical
    Scenario: A weaker challenger does not replace the champion
      Given the churn model trained on all features is the champion
      When the churn model trained only on the customers' region is registered and promoted
      Then version 1 is the champion
      And version 2 is the challenger
      And version 2 records the decision "kept champion" on ROC AUC, not beating version 1

    @US8_4 @critical
    Scenario: One command trains, registers and promotes the churn model
      When the engineer trains, registers and promotes the churn model on the command line
      Then version 1 is the champion
      And version 1 records the decision "first champion" on ROC AUC

    @US8_4 @normal
    Scenario: Promoting the champion again keeps it
      Given the churn model trained on all features is the champion
      When version 1 is promoted again
      Then version 1 is the champion
      And version 1 records the decision "kept champion" on ROC AUC, not beating version 1

    @US8_4 @normal
    Scenario: Promotion on a metric the training never recorded is refused
      Given the churn model trained on all features is registered
      When version 1 is promoted on the metric "f1_score"
      Then the command fails with "has no 'f1_score' metric in its run: cannot compare"
