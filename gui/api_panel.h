// The Local API panel: starts and stops the OpenAI-compatible server (core/server) on the same
// Engine the chat uses, with host, port and API key, and shows the base URL to paste into Open
// WebUI. The server runs on its own threads; stopping it (which joins them) runs off the GUI
// thread. A non-loopback host is refused without an API key, with the reason shown.
#pragma once

#include <QFutureWatcher>
#include <QWidget>

#include <memory>

class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace hearth {
class Engine;
class HttpServer;
}  // namespace hearth

namespace hearth::gui {

class EngineController;

class ApiPanel : public QWidget {
    Q_OBJECT

public:
    static constexpr int kDefaultPort = 8080;

    explicit ApiPanel(EngineController* engine, QWidget* parent = nullptr);
    ~ApiPanel() override;

    // Starts the server with the fields' settings; false (reason shown and in lastError()) when refused.
    bool startServer();
    // Stops the server in the background; `stopped` follows once its threads are joined.
    void stopServer();
    bool isRunning() const { return m_server != nullptr; }
    // The bound port while running (the chosen one when the port field is 0), else 0.
    int port() const;
    // The base URL clients use ("http://127.0.0.1:8080/v1"), empty while stopped.
    QString baseUrl() const;
    QString lastError() const { return m_lastError; }

signals:
    void started(const QString& baseUrl);
    void stopped();
    void startFailed(const QString& reason);

private:
    void toggle();
    void generateKey();
    void showState();

    EngineController* m_controller;
    std::shared_ptr<Engine> m_engine;  // kept while serving: the server must not outlive it
    std::unique_ptr<HttpServer> m_server;
    QFutureWatcher<void> m_stopWatcher;
    QString m_lastError;

    QLineEdit* m_host = nullptr;
    QSpinBox* m_port = nullptr;
    QLineEdit* m_apiKey = nullptr;
    QPushButton* m_toggle = nullptr;
    QLabel* m_state = nullptr;
    QLabel* m_url = nullptr;
};

}  // namespace hearth::gui
