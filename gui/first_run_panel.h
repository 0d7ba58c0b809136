// What the library shows when no model was found anywhere: says so plainly and offers to add a
// folder or to create the built-in demo model (random weights, clearly labelled), with a busy
// indicator while the demo is written. Downloading is offered once the download wizard exists.
#pragma once

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace hearth::gui {

class FirstRunPanel : public QWidget {
    Q_OBJECT

public:
    // `modelsDir`: where Hearth looks by default, named in the text; `hfCache`: whether the
    // Hugging Face cache was searched too.
    FirstRunPanel(const QString& modelsDir, bool hfCache, QWidget* parent = nullptr);

    // Shows the busy indicator (and disables the buttons) while the demo is being written.
    void setBusy(bool busy);
    // A line under the buttons: the outcome of the last attempt.
    void setMessage(const QString& message);

signals:
    void addFolderRequested();
    void createDemoRequested();

private:
    QPushButton* m_addFolder = nullptr;
    QPushButton* m_createDemo = nullptr;
    QProgressBar* m_busy = nullptr;
    QLabel* m_message = nullptr;
};

}  // namespace hearth::gui
